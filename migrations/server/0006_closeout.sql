-- Closing out an event (issue 11): RSUs excluded from an event's reconciliation by an
-- administrator (a lost or destroyed device), who resolved a rejected or conflicting journal
-- entry, and who confirmed an event's reconciliation.
--
-- Admin "who" is a name given by the person (`--by`, or SERVER_STUB_ADMIN_NAME / USER on the
-- CLI; `by` over HTTP): there are no admin user accounts yet (DESIGN §7 "People"), so the UUID
-- columns of seed 000 (`resolved_by`, `reconciliation_confirmed_by`) stay NULL until there are.

-- One row per exclusion; lifting it sets lifted_* and keeps the row (nothing is deleted). At
-- most one active exclusion per RSU and event.
CREATE TABLE rsu_event_exclusions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    reason           TEXT NOT NULL CHECK (btrim(reason) <> ''),
    marked_lost      BOOLEAN NOT NULL DEFAULT FALSE,
    excluded_by      TEXT NOT NULL CHECK (btrim(excluded_by) <> ''),
    excluded_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- The unaccounted numbers at the moment of exclusion, compressed ("1016–1100"), as evidence.
    unaccounted_at_exclusion JSONB NOT NULL DEFAULT '[]'::JSONB,
    lifted_at        TIMESTAMPTZ,
    lifted_by        TEXT,
    lift_reason      TEXT,
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL) AND (lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE UNIQUE INDEX rsu_event_exclusions_active_key ON rsu_event_exclusions (event_id, rsu_id)
    WHERE lifted_at IS NULL;

-- Who resolved a rejected or conflicting entry (resolved_at, resolution_note exist since 0002).
ALTER TABLE device_journal ADD COLUMN resolved_by_name TEXT;

-- A second version of a known seq is an exception too: resolvable the same way.
ALTER TABLE journal_conflicts ADD COLUMN resolved_at TIMESTAMPTZ;
ALTER TABLE journal_conflicts ADD COLUMN resolved_by_name TEXT;
ALTER TABLE journal_conflicts ADD COLUMN resolution_note TEXT;

-- Who confirmed the reconciliation (reconciliation_confirmed_at exists since 0001).
ALTER TABLE events ADD COLUMN reconciliation_confirmed_by_name TEXT;

-- The report reads every rejected or conflicting entry of an event's RSUs, open or resolved;
-- they are few, so a partial index costs applied entries nothing.
CREATE INDEX idx_device_journal_exceptions ON device_journal (rsu_id) WHERE status <> 'applied';

-- The report checks each Z report's voids against the applied void entries of its seq range;
-- voids are few, so this costs other entries nothing.
CREATE INDEX idx_device_journal_voids ON device_journal (rsu_id, epoch, seq)
    WHERE kind = 'void' AND status = 'applied';
