-- What device sync needs (DESIGN §6, §7): keys, epochs, enrollment tokens, the device journal,
-- nonces, commands, price history and shift closes.

-- One Ed25519 public key per row; a device holds one or two at a time (rotation with overlap).
CREATE TABLE rsu_keys (
    id               UUID PRIMARY KEY,            -- the key id sent in X-Rsu-Key-Id
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    public_key       BYTEA NOT NULL UNIQUE CHECK (length(public_key) = 32),
    valid_from       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- Requests signed after this are refused; journal entries created before it still upload.
    expires_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,                 -- revoked keys are refused for everything
    revoked_reason   TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CHECK (valid_from < expires_at)
);
CREATE INDEX idx_rsu_keys_rsu ON rsu_keys(rsu_id);

-- A device epoch starts at each enrollment; the journal's seq restarts at 1 in it.
CREATE TABLE rsu_epochs (
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    epoch            INTEGER NOT NULL CHECK (epoch > 0),
    started_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    key_id           UUID NOT NULL REFERENCES rsu_keys(id),
    device_identifier TEXT NOT NULL,
    app_version      TEXT NOT NULL,
    app_hash         TEXT NOT NULL,
    -- The server's chain position: every seq up to last_seq is stored in device_journal.
    last_seq         BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    head_hash        BYTEA NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::BYTEA
                     CHECK (length(head_hash) = 32),
    -- False once an entry failed the chain check; the first such seq is kept.
    chain_verified   BOOLEAN NOT NULL DEFAULT TRUE,
    chain_broken_at  BIGINT,
    conflicts        INTEGER NOT NULL DEFAULT 0,
    -- From the latest heartbeat.
    reported_last_seq BIGINT,
    pending_count    BIGINT,
    oldest_pending_age_secs BIGINT,
    printer_status   TEXT,
    last_heartbeat_at TIMESTAMPTZ,
    last_push_at     TIMESTAMPTZ,
    PRIMARY KEY (rsu_id, epoch)
);

-- One-time enrollment tokens; only the SHA-256 of the token is stored.
CREATE TABLE enrollment_tokens (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    token_hash       BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at       TIMESTAMPTZ NOT NULL,
    used_at          TIMESTAMPTZ,
    used_epoch       INTEGER
);

-- Every journal entry a device sent, rejected ones included, with its full payload (DESIGN §3.4).
CREATE TABLE journal_entry_statuses (key TEXT PRIMARY KEY, description TEXT NOT NULL);
INSERT INTO journal_entry_statuses (key, description) VALUES
  ('applied', 'Accepted and reconciled into orders, tickets, critical events, …'),
  ('rejected', 'Stored but not applied; reason_code says why; a person must resolve it'),
  ('conflict', 'The entry or sale id was already used by another entry; nothing overwritten');

CREATE TABLE device_journal (
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    epoch            INTEGER NOT NULL,
    seq              BIGINT NOT NULL CHECK (seq > 0),
    entry_id         UUID NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'reprint', 'critical_event', 'shift_close', 'allocation_release')),
    created_at       TIMESTAMPTZ NOT NULL,        -- device time
    payload          JSONB NOT NULL,
    prev_hash        BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    hash             BYTEA NOT NULL CHECK (length(hash) = 32),
    status           TEXT NOT NULL REFERENCES journal_entry_statuses(key),
    reason_code      TEXT,
    reason_message   TEXT,
    flags            TEXT[] NOT NULL DEFAULT '{}',
    key_id           UUID NOT NULL,               -- the key that signed the push
    received_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    resolved_at      TIMESTAMPTZ,                 -- set by a person for rejected entries
    resolved_by      UUID,
    resolution_note  TEXT,
    CONSTRAINT device_journal_pkey PRIMARY KEY (rsu_id, epoch, seq),
    FOREIGN KEY (rsu_id, epoch) REFERENCES rsu_epochs(rsu_id, epoch),
    CHECK ((status = 'applied') = (reason_code IS NULL))
);
CREATE INDEX idx_device_journal_entry ON device_journal(entry_id);
CREATE INDEX idx_device_journal_open_rejections ON device_journal(rsu_id) WHERE status <> 'applied' AND resolved_at IS NULL;

-- A second version of a seq the server already holds (different hash): kept for investigation,
-- never applied (DESIGN §3.5 "a changed payload for a known seq is detected and reported").
CREATE TABLE journal_conflicts (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    epoch            INTEGER NOT NULL,
    seq              BIGINT NOT NULL,
    entry            JSONB NOT NULL,
    hash             BYTEA NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT journal_conflicts_version_key UNIQUE (rsu_id, epoch, seq, hash)
);

-- Nonces seen inside the clock window; older rows are purged.
CREATE TABLE request_nonces (
    key_id           UUID NOT NULL,
    nonce            TEXT NOT NULL,
    seen_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT request_nonces_pkey PRIMARY KEY (key_id, nonce)
);
CREATE INDEX idx_request_nonces_seen ON request_nonces(seen_at);

-- Prices a package had and from when: the price in force at a sale's time.
CREATE TABLE package_price_history (
    package_id       UUID NOT NULL REFERENCES ticket_packages(id) ON DELETE CASCADE,
    -- Finite: the first price of a package starts at 1970-01-01.
    effective_from   TIMESTAMPTZ NOT NULL CHECK (isfinite(effective_from)),
    price            BIGINT NOT NULL CHECK (price >= 0),
    PRIMARY KEY (package_id, effective_from)
);

-- Commands carried out by devices at their next contact (DESIGN §6 pull).
CREATE TABLE rsu_commands (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('suspend', 'resume', 'close')),
    event_id         UUID REFERENCES events(id) ON DELETE CASCADE,
    issued_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    acknowledged_at  TIMESTAMPTZ
);
CREATE INDEX idx_rsu_commands_pending ON rsu_commands(rsu_id) WHERE acknowledged_at IS NULL;

-- Signed shift closes (Z reports) as the device sent them.
CREATE TABLE shift_closes (
    shift_id         UUID PRIMARY KEY,
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    epoch            INTEGER NOT NULL,
    seq              BIGINT NOT NULL,
    operator_id      UUID NOT NULL,
    closed_at        TIMESTAMPTZ NOT NULL,
    sales_count      BIGINT NOT NULL,
    sales_amount     BIGINT NOT NULL,
    voids_count      BIGINT NOT NULL,
    voids_amount     BIGINT NOT NULL,
    cash_expected    BIGINT NOT NULL,
    report           JSONB NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
