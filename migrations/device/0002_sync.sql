-- Device store, version 2: the sync daemon's own bookkeeping. Nothing here is part of any
-- journal hash. (The statements are idempotent so that a database on which an early rsu-syncd
-- created this table unversioned still migrates.)

-- What rsu-syncd knows about its conversation with the server. Exactly one row (id = 1).
-- Per-entry sync status lives beside each journal entry (journal.sync_status); this table only
-- holds what is about the device as a whole, for `rsu-syncd status` and for the next round.
CREATE TABLE IF NOT EXISTS sync_state (
    id                        INTEGER PRIMARY KEY CHECK (id = 1),
    -- Where the device's Ed25519 private key (PKCS#8 v2, mode 0600) is kept, as written at
    -- enrollment. A relative path is relative to the database's directory.
    key_path                  TEXT,
    -- When the daemon last finished a round, and the last round in which every step succeeded.
    last_round_at             TEXT,
    last_success_at           TEXT,
    -- The last failure: when, a stable code (transport, timeout, server_error, rate_limited,
    -- unauthorized, gap, rejected_request, local, ...) and a sentence saying what happened.
    last_error_at             TEXT,
    last_error_code           TEXT,
    last_error                TEXT,
    -- Failed rounds in a row; drives the backoff and goes back to 0 on success.
    consecutive_failures      INTEGER NOT NULL DEFAULT 0,
    -- The server's answer to the last push: what it holds of the current epoch and its chain head.
    server_acked_through_seq  INTEGER,
    server_chain_head         TEXT,
    server_chain_verified     INTEGER CHECK (server_chain_verified IN (0, 1)),
    -- The configuration version the server announced at the last heartbeat.
    server_config_version     INTEGER,
    last_pull_at              TEXT,
    last_heartbeat_at         TEXT,
    -- Ids of server commands (suspend/resume/close) applied from pulled configuration and not
    -- yet acknowledged to the server by a heartbeat; a JSON array of UUID strings.
    unacked_commands_json     TEXT NOT NULL DEFAULT '[]'
);
INSERT OR IGNORE INTO sync_state (id) VALUES (1);
