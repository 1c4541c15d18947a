-- Perks (seed 002 "Perk", "Perk claim"; issue 14, docs/server.md "Perks"): an organization's
-- perk catalog, the units of an inventory perk each device may issue (perk allocations, like
-- draw-number allocations: inventory is never oversold, even offline), and one claim row per
-- unit a sale issued, claimed once at the desk by its code. Packages name their perks in
-- `ticket_packages.perk_ids` (0001).

-- The device writes a perk_release entry per perk allocation when it closes for an event.
ALTER TABLE device_journal DROP CONSTRAINT device_journal_kind_check;
ALTER TABLE device_journal ADD CONSTRAINT device_journal_kind_check
    CHECK (kind IN ('sale', 'void', 'reprint', 'critical_event', 'shift_close',
                    'allocation_release', 'perk_release')) NOT VALID;
ALTER TABLE device_journal VALIDATE CONSTRAINT device_journal_kind_check;

-- The organization's phone number, printed where a jurisdiction requires `organizationPhone`.
ALTER TABLE organizations ADD COLUMN phone TEXT CHECK (phone IS NULL OR phone <> '');

CREATE TABLE perks (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name               TEXT NOT NULL CHECK (name <> ''),
    description        TEXT NOT NULL DEFAULT '',
    type               TEXT NOT NULL
                       CHECK (type IN ('benefit', 'physical_item', 'digital_item', 'experience')),
    category           TEXT NOT NULL DEFAULT '',
    -- True: units are limited to inventory_total and a device issues one only from a perk
    -- allocation. False: every sale of a package that includes the perk issues one.
    requires_inventory BOOLEAN NOT NULL DEFAULT FALSE,
    inventory_total    INTEGER CHECK (inventory_total IS NULL OR inventory_total >= 0),
    -- Units a device gets at a time: its first block at its first configuration pull, and a
    -- top-up of one block whenever fewer than half a block are left.
    block_size         INTEGER NOT NULL DEFAULT 10 CHECK (block_size > 0),
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    -- Seed 002 `metadata` (location, validityPeriod, …), shown as given.
    metadata           JSONB NOT NULL DEFAULT '{}'::JSONB,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by         UUID,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (organization_id, name),
    CHECK (requires_inventory = (inventory_total IS NOT NULL))
);

-- Units of one inventory perk one RSU may issue for one event. Every change of `quantity` locks
-- the perk row first, so the sum over a perk's allocations of (quantity - released) never
-- exceeds its inventory_total.
CREATE TABLE perk_allocations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    perk_id          UUID NOT NULL REFERENCES perks(id),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    rsu_id           UUID NOT NULL REFERENCES rsus(id),
    -- Units given to the device; a top-up raises it, nothing lowers it.
    quantity         INTEGER NOT NULL CHECK (quantity >= 0),
    -- Units the server holds as issued by the device's sales (voided sales included).
    issued           INTEGER NOT NULL DEFAULT 0 CHECK (issued >= 0 AND issued <= quantity),
    -- Units given back at close (perk_release): quantity - issued then; they return to inventory.
    released         INTEGER NOT NULL DEFAULT 0 CHECK (released >= 0),
    state            TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'released')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    released_at      TIMESTAMPTZ,
    CHECK (issued + released <= quantity),
    CHECK ((state = 'released') = (released_at IS NOT NULL))
);
-- A device holds at most one active allocation per perk and event: a top-up raises it.
CREATE UNIQUE INDEX perk_allocations_one_active
    ON perk_allocations (perk_id, event_id, rsu_id) WHERE state = 'active';
CREATE INDEX idx_perk_allocations_event ON perk_allocations (event_id, rsu_id);

-- One row per perk unit a sale issued (seed 002 "Perk claim").
CREATE TABLE perk_claims (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    perk_id            UUID NOT NULL REFERENCES perks(id),
    -- NULL for a perk without inventory.
    perk_allocation_id UUID REFERENCES perk_allocations(id),
    event_id           UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    -- The sale (orders.id = the sale's localId); the purge of an event's orders removes these.
    order_id           UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    rsu_id             UUID REFERENCES rsus(id),
    -- The perk's place on the receipt, from 1 (the P<n> of the code).
    position           INTEGER NOT NULL CHECK (position > 0),
    perk_name          TEXT NOT NULL,
    -- Canonical form (rsu_core::perk::ClaimCode), e.g. RSU001-2026-000123-P1-7KQF9M.
    claim_code         TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'claimed', 'voided')),
    -- The sale's soldAt.
    issued_at          TIMESTAMPTZ NOT NULL,
    claimed_at         TIMESTAMPTZ,
    -- The person at the desk (--by / X-Admin-Name) and their user, when signed in.
    claimed_by         TEXT,
    claimed_by_user    UUID,
    voided_at          TIMESTAMPTZ,
    UNIQUE (organization_id, claim_code),
    UNIQUE (order_id, position),
    CHECK ((status = 'claimed') = (claimed_at IS NOT NULL AND claimed_by IS NOT NULL))
);
-- The desk finds a code by its sale and place even when the tag was mistyped.
CREATE INDEX idx_perk_claims_code_prefix ON perk_claims (claim_code text_pattern_ops);
CREATE INDEX idx_perk_claims_event ON perk_claims (event_id, rsu_id);
CREATE INDEX idx_perk_claims_allocation ON perk_claims (perk_allocation_id);
