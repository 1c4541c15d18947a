-- Dashboard sessions (issue 13, docs/server.md "Accounts and roles"). The cookie carries a random
-- 256-bit token; only its SHA-256 is stored, so a copy of the database signs nobody in. A session
-- ends at the first of: sign-out (revoked_at), idle timeout (last_seen_at), absolute expiry.
CREATE TABLE admin_sessions (
    token_hash       BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id          UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Every form the dashboard renders carries this token; a POST without it is refused.
    csrf_token       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_seen_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ
);

CREATE INDEX idx_admin_sessions_user ON admin_sessions(user_id);
