-- Admin passwords, sign-in throttling and per-user API tokens (issue 13, docs/server.md
-- "Accounts and roles").

-- The Argon2id hash of the user's dashboard password as a PHC string
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash); NULL until `admin create-user` / `set-password` set it.
ALTER TABLE users ADD COLUMN password_hash TEXT
    CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%');
-- Wrong passwords since first_failed_login_at; reset by a correct one or after the window.
ALTER TABLE users ADD COLUMN failed_logins INT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN first_failed_login_at TIMESTAMPTZ;
-- Too many wrong passwords in the window lock the account until then (a CRITICAL event says so).
ALTER TABLE users ADD COLUMN locked_until TIMESTAMPTZ;

-- Every sign-in attempt, for the per-address and per-email rate limits and for the record. Rows
-- older than a day are deleted as new ones come in.
CREATE TABLE login_attempts (
    id            BIGSERIAL PRIMARY KEY,
    -- The email as typed, lower-cased (it need not belong to anyone).
    email         TEXT NOT NULL,
    -- The client address (the peer, or the last X-Forwarded-For hop behind a local proxy).
    client        TEXT NOT NULL,
    user_id       UUID REFERENCES users(id) ON DELETE CASCADE,
    succeeded     BOOLEAN NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_login_attempts_email ON login_attempts (email, attempted_at);
CREATE INDEX idx_login_attempts_client ON login_attempts (client, attempted_at);
CREATE INDEX idx_login_attempts_time ON login_attempts (attempted_at);

-- Per-user API tokens for automation (Authorization: Bearer rsu_pat_…). The token is 256 random
-- bits shown once; only its SHA-256 is stored, so a copy of the database authenticates nobody.
-- A token acts with its user's roles; deactivating the user or revoking the token ends it.
CREATE TABLE admin_api_tokens (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- What it is for, e.g. "nightly report export".
    name          TEXT NOT NULL CHECK (name <> ''),
    token_hash    BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX idx_admin_api_tokens_user ON admin_api_tokens (user_id);
