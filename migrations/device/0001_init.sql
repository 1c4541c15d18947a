-- Device store, version 1. Released migrations are never edited: add a new file instead.
-- Pragmas (WAL, synchronous=FULL, foreign_keys, busy_timeout) are set by the opener, not here.

-- This device's identity. Exactly one row (id = 1).
CREATE TABLE device (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    rsu_id              TEXT NOT NULL,
    rsu_no              INTEGER NOT NULL CHECK (rsu_no > 0),
    name                TEXT NOT NULL,
    -- Re-enrollment starts a new epoch; journal seq restarts at 1 in each.
    epoch               INTEGER NOT NULL CHECK (epoch > 0),
    server_url          TEXT,
    -- Key id of the device's Ed25519 key; the private key is a file in the data directory.
    key_id              TEXT,
    -- HMAC key for validation-number tags, hex, issued by the server at enrollment.
    validation_key_hex  TEXT NOT NULL,
    -- Server time minus device time, learned at each contact; added to the device clock.
    clock_offset_ms     INTEGER NOT NULL DEFAULT 0,
    -- The last sale sequence used in a validation number. Never reset, even across epochs,
    -- so validation numbers stay unique.
    sale_seq            INTEGER NOT NULL DEFAULT 0,
    config_version      INTEGER NOT NULL DEFAULT 0,
    enrolled_at         TEXT NOT NULL,
    -- Consecutive failed PIN attempts on this device, and the lockout end (RFC 3339) if locked.
    failed_pin_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until        TEXT,
    -- The last time the server answered this device (for offlineSalesAllowed = false).
    last_server_contact_at TEXT
);

CREATE TABLE organization (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    org_id              TEXT NOT NULL,
    name                TEXT NOT NULL,
    license_number      TEXT NOT NULL,
    primary_currency    TEXT NOT NULL CHECK (length(primary_currency) = 3),
    validation_prefix   TEXT NOT NULL
);

-- Settings pulled from the server (system configuration and this RSU's configuration).
CREATE TABLE settings (
    id                               INTEGER PRIMARY KEY CHECK (id = 1),
    max_offline_tickets              INTEGER,
    offline_sale_expiration_minutes  INTEGER,
    sync_interval_minutes            INTEGER NOT NULL DEFAULT 5,
    low_water_mark                   INTEGER,
    -- The whole last applied configuration, for audit and for fields not broken out.
    config_json                      TEXT NOT NULL
);

CREATE TABLE events (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    identifier          TEXT NOT NULL,
    state               TEXT NOT NULL,
    currency            TEXT NOT NULL CHECK (length(currency) = 3),
    sales_start         TEXT NOT NULL,
    sales_end           TEXT NOT NULL,
    draw_time           TEXT NOT NULL,
    timezone            TEXT NOT NULL,
    venue_name          TEXT,
    jackpot_json        TEXT,
    jackpot_current_json TEXT,
    jurisdiction_json   TEXT NOT NULL,
    prizes_json         TEXT NOT NULL DEFAULT '[]',
    -- Set by a `suspend` command from the server, cleared by `resume`.
    suspended           INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
    CHECK (sales_start <= sales_end)
);

CREATE TABLE packages (
    id                  TEXT PRIMARY KEY,
    event_id            TEXT NOT NULL REFERENCES events(id),
    name                TEXT NOT NULL,
    ticket_count        INTEGER NOT NULL CHECK (ticket_count > 0),
    -- Minor units of the event currency.
    price_minor         INTEGER NOT NULL CHECK (price_minor >= 0),
    currency            TEXT NOT NULL CHECK (length(currency) = 3),
    display_order       INTEGER NOT NULL,
    is_active           INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    active_from         TEXT,
    active_to           TEXT
);

-- Draw-number ranges the server allocated to this device.
CREATE TABLE allocations (
    id                  TEXT PRIMARY KEY,
    event_id            TEXT NOT NULL REFERENCES events(id),
    start_number        INTEGER NOT NULL CHECK (start_number > 0),
    end_number          INTEGER NOT NULL,
    -- The next number this device will sell from the range; end_number + 1 when exhausted.
    next_number         INTEGER NOT NULL,
    -- active, released
    state               TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'released')),
    received_at         TEXT NOT NULL,
    CHECK (start_number <= end_number),
    CHECK (next_number BETWEEN start_number AND end_number + 1)
);

CREATE TABLE operators (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('seller', 'supervisor')),
    pin_hash            TEXT NOT NULL,
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))
);

-- Who is logged in now (at most one operator at the kiosk).
CREATE TABLE session (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    operator_id         TEXT NOT NULL REFERENCES operators(id),
    logged_in_at        TEXT NOT NULL,
    last_activity_at    TEXT NOT NULL
);

CREATE TABLE shifts (
    id                  TEXT PRIMARY KEY,
    operator_id         TEXT NOT NULL REFERENCES operators(id),
    opened_at           TEXT NOT NULL,
    float_minor         INTEGER NOT NULL DEFAULT 0 CHECK (float_minor >= 0),
    currency            TEXT NOT NULL,
    closed_at           TEXT,
    closed_by           TEXT,
    -- The Z report (ShiftClosePayload) once closed.
    z_report_json       TEXT
);
CREATE UNIQUE INDEX one_open_shift_per_operator ON shifts(operator_id) WHERE closed_at IS NULL;

-- The journal: hash-chained, gap-free per epoch. body_json holds the exact canonical bytes that
-- were hashed; the columns after `hash` are sync bookkeeping and are never part of the hash.
CREATE TABLE journal (
    epoch               INTEGER NOT NULL,
    seq                 INTEGER NOT NULL CHECK (seq > 0),
    entry_id            TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'reprint', 'critical_event', 'shift_close', 'allocation_release')),
    created_at          TEXT NOT NULL,
    body_json           TEXT NOT NULL,
    prev_hash           BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash                BLOB NOT NULL CHECK (length(hash) = 32),
    -- pending until the server answers; then applied, duplicate, conflict or rejected.
    sync_status         TEXT NOT NULL DEFAULT 'pending' CHECK (sync_status IN ('pending', 'applied', 'duplicate', 'conflict', 'rejected')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_attempt_at     TEXT,
    last_error          TEXT,
    reason_code         TEXT,
    acked_at            TEXT,
    PRIMARY KEY (epoch, seq)
) WITHOUT ROWID;
CREATE INDEX journal_pending ON journal(sync_status, epoch, seq);

-- Sales, one row per sale, derived in the same transaction as their journal entry.
CREATE TABLE sales (
    id                  TEXT PRIMARY KEY,
    epoch               INTEGER NOT NULL,
    seq                 INTEGER NOT NULL,
    event_id            TEXT NOT NULL REFERENCES events(id),
    package_id          TEXT NOT NULL,
    package_name        TEXT NOT NULL,
    ticket_count        INTEGER NOT NULL CHECK (ticket_count > 0),
    unit_price_minor    INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    total_minor         INTEGER NOT NULL CHECK (total_minor >= 0),
    currency            TEXT NOT NULL,
    validation_number   TEXT NOT NULL UNIQUE,
    sale_seq            INTEGER NOT NULL UNIQUE,
    operator_id         TEXT NOT NULL,
    shift_id            TEXT,
    payment_method      TEXT NOT NULL CHECK (payment_method IN ('cash', 'card')),
    payment_reference   TEXT,
    customer_json       TEXT,
    sold_at             TEXT NOT NULL,
    -- pending → printed | print_failed → reprinted | spoiled
    print_state         TEXT NOT NULL DEFAULT 'pending' CHECK (print_state IN ('pending', 'printed', 'print_failed', 'reprinted', 'spoiled')),
    -- Receipts printed so far (the first print counts 1; REPRINT n is print n + 1).
    print_count         INTEGER NOT NULL DEFAULT 0,
    -- Reprints requested so far; the receipt of reprint n says REPRINT n.
    reprint_count       INTEGER NOT NULL DEFAULT 0,
    print_error         TEXT,
    voided_at           TEXT,
    void_reason         TEXT,
    voided_by           TEXT,
    void_seq            INTEGER,
    -- The shift during which the void was made (for that shift's Z report).
    void_shift_id       TEXT,
    FOREIGN KEY (epoch, seq) REFERENCES journal(epoch, seq)
);
CREATE INDEX sales_print_state ON sales(print_state);
CREATE INDEX sales_journal ON sales(epoch, seq);

-- Every draw number sold, one row each. The primary key makes selling a number twice impossible.
CREATE TABLE sale_numbers (
    event_id            TEXT NOT NULL,
    draw_number         INTEGER NOT NULL,
    sale_id             TEXT NOT NULL REFERENCES sales(id),
    allocation_id       TEXT NOT NULL REFERENCES allocations(id),
    PRIMARY KEY (event_id, draw_number)
) WITHOUT ROWID;
CREATE INDEX sale_numbers_sale ON sale_numbers(sale_id);
