-- Jurisdictions and their regulations (seed 002; issue 14, docs/server.md "Jurisdictions"): a
-- hierarchy country → state or province → local, regulations with effective and expiration
-- dates that child jurisdictions may override only where `overridable`. A venue belongs to a
-- jurisdiction; an event at the venue is checked against the regulations in force when its sales
-- start, and its jurisdiction profile is derived from them.

CREATE TABLE jurisdictions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             TEXT NOT NULL CHECK (name <> ''),
    -- Jurisdiction-specific identifier, e.g. SF-CA-US; unique.
    code             TEXT NOT NULL UNIQUE CHECK (code <> ''),
    type             TEXT NOT NULL CHECK (type IN ('country', 'state', 'province', 'local')),
    parent_jurisdiction_id UUID REFERENCES jurisdictions(id),
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID,
    CHECK (parent_jurisdiction_id IS NULL OR parent_jurisdiction_id <> id)
);

CREATE TABLE jurisdiction_regulations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    jurisdiction_id  UUID NOT NULL REFERENCES jurisdictions(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (name <> ''),
    type             TEXT NOT NULL CHECK (type IN ('ticket_price_limit', 'prize_limit', 'event_duration',
                                                   'sales_method', 'reporting_requirement', 'data_retention')),
    -- The rule itself; its shape per type is in docs/server.md "Jurisdictions" and checked when
    -- the regulation is created.
    value            JSONB NOT NULL,
    effective_date   TIMESTAMPTZ NOT NULL,
    expiration_date  TIMESTAMPTZ,
    -- May a child jurisdiction's regulation of the same type replace this one?
    overridable      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CHECK (expiration_date IS NULL OR expiration_date > effective_date)
);

CREATE INDEX idx_regulations_jurisdiction ON jurisdiction_regulations(jurisdiction_id, type);
CREATE INDEX idx_jurisdictions_parent ON jurisdictions(parent_jurisdiction_id);

ALTER TABLE venues ADD COLUMN jurisdiction_id UUID REFERENCES jurisdictions(id);

-- Addresses (seed 000) for organizations too (venues have address_id already): the licensee's
-- address, printed where a jurisdiction requires it.
ALTER TABLE organizations ADD COLUMN address_id UUID REFERENCES addresses(id);
