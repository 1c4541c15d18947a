-- Device store, version 9: perks (issue 14) and the organization's address and phone (printed
-- where a jurisdiction's requiredReceiptFields asks for them). Released migrations are never
-- edited: add a new file instead. `Store::migrate` runs this with foreign keys off and checks
-- them (PRAGMA foreign_key_check) before it commits, as SQLite's table-rebuild procedure asks.

-- The licensee's postal address (lines separated by "\n") and phone, from the configuration.
ALTER TABLE organization ADD COLUMN address TEXT;
ALTER TABLE organization ADD COLUMN phone TEXT;

-- The perks an event's packages include (EventConfig.perks), as the receipt names them.
CREATE TABLE perks (
    event_id            TEXT NOT NULL REFERENCES events(id),
    id                  TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    -- benefit, physical_item, digital_item or experience (as the server says; not checked here)
    kind                TEXT NOT NULL,
    category            TEXT NOT NULL DEFAULT '',
    -- 1: issued only from a perk allocation of this device; 0: issued with every sale.
    requires_inventory  INTEGER NOT NULL CHECK (requires_inventory IN (0, 1)),
    PRIMARY KEY (event_id, id)
) WITHOUT ROWID;

-- The perks a sale of a package issues, one unit each, in receipt order (Package.perkIds).
CREATE TABLE package_perks (
    package_id          TEXT NOT NULL REFERENCES packages(id),
    -- From 1, the perk's place on the receipt (P1, P2, ...).
    position            INTEGER NOT NULL CHECK (position > 0),
    perk_id             TEXT NOT NULL,
    PRIMARY KEY (package_id, position)
) WITHOUT ROWID;

-- Perk units the server gave this device (DeviceConfig.perkAllocations). A top-up raises
-- quantity; issued counts the units sales took (voided sales included); released ends it.
CREATE TABLE perk_allocations (
    id                  TEXT PRIMARY KEY,
    perk_id             TEXT NOT NULL,
    event_id            TEXT NOT NULL REFERENCES events(id),
    quantity            INTEGER NOT NULL CHECK (quantity >= 0),
    issued              INTEGER NOT NULL DEFAULT 0 CHECK (issued >= 0 AND issued <= quantity),
    state               TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'released')),
    received_at         TEXT NOT NULL,
    released_at         TEXT
);
CREATE INDEX perk_allocations_event ON perk_allocations(event_id, perk_id, state);

-- The perks each sale issued, in receipt order, with their one-time claim codes.
CREATE TABLE sale_perks (
    sale_id             TEXT NOT NULL REFERENCES sales(id),
    position            INTEGER NOT NULL CHECK (position > 0),
    perk_id             TEXT NOT NULL,
    -- NULL for a perk without inventory.
    perk_allocation_id  TEXT REFERENCES perk_allocations(id),
    perk_name           TEXT NOT NULL,
    claim_code          TEXT NOT NULL UNIQUE,
    PRIMARY KEY (sale_id, position)
) WITHOUT ROWID;

-- The journal takes the new `perk_release` kind. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt (https://sqlite.org/lang_altertable.html#otheralter): copied
-- as it is, byte for byte, into a table that differs only in that CHECK. Its indexes and the
-- triggers of migration 0008 (which name it) are made again exactly as they were.
DROP TRIGGER pending_tickets_sale;
DROP TRIGGER pending_tickets_synced;
DROP TRIGGER pending_tickets_pending_again;

CREATE TABLE journal_new (
    epoch               INTEGER NOT NULL,
    seq                 INTEGER NOT NULL CHECK (seq > 0),
    entry_id            TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'reprint', 'critical_event', 'shift_close', 'allocation_release', 'perk_release')),
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
INSERT INTO journal_new (epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash, sync_status,
                         attempts, last_attempt_at, last_error, reason_code, acked_at)
SELECT epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash, sync_status,
       attempts, last_attempt_at, last_error, reason_code, acked_at
  FROM journal;
DROP TABLE journal;
ALTER TABLE journal_new RENAME TO journal;
CREATE INDEX journal_pending ON journal(sync_status, epoch, seq);
CREATE INDEX journal_created_at ON journal(created_at);

CREATE TRIGGER pending_tickets_sale AFTER INSERT ON sales
WHEN (SELECT sync_status FROM journal WHERE epoch = NEW.epoch AND seq = NEW.seq) = 'pending'
BEGIN
    UPDATE pending_tickets SET tickets = tickets + NEW.ticket_count WHERE id = 1;
END;

CREATE TRIGGER pending_tickets_synced AFTER UPDATE OF sync_status ON journal
WHEN OLD.sync_status = 'pending' AND NEW.sync_status <> 'pending'
BEGIN
    UPDATE pending_tickets
       SET tickets = tickets - coalesce((SELECT ticket_count FROM sales
                                          WHERE epoch = NEW.epoch AND seq = NEW.seq), 0)
     WHERE id = 1;
END;

CREATE TRIGGER pending_tickets_pending_again AFTER UPDATE OF sync_status ON journal
WHEN OLD.sync_status <> 'pending' AND NEW.sync_status = 'pending'
BEGIN
    UPDATE pending_tickets
       SET tickets = tickets + coalesce((SELECT ticket_count FROM sales
                                          WHERE epoch = NEW.epoch AND seq = NEW.seq), 0)
     WHERE id = 1;
END;
