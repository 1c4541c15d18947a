-- Base schema of the companion server: seed 000 (the latest MVP schema) plus critical_events,
-- audit_log and system_configurations from seed 001. Deviations from the seeds are commented
-- where they happen; the reasons are in docs/server.md ("Schema").
-- All money is integer minor units (BIGINT) with an ISO 4217 code beside it.

CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- gen_random_uuid()
CREATE EXTENSION IF NOT EXISTS btree_gist; -- equality on uuid inside the allocation exclusion constraint

-- Lookup tables (preferred over ENUMs so they can grow at run time) ---------------------------

CREATE TABLE event_states (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE ticket_states (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE payment_statuses (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE order_sources (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE rsu_states (key TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE offline_sync_statuses (key TEXT PRIMARY KEY, description TEXT NOT NULL);

INSERT INTO event_states (key, description) VALUES
  ('created', 'Initial state after creation'),
  ('configured', 'All required parameters set'),
  ('active', 'Sales are open'),
  ('suspended', 'Sales temporarily paused'),
  ('sales_closed', 'Sales closed'),
  ('reconciling', 'Awaiting RSU synchronization'),
  ('reconciled', 'Admin confirmed all sales accounted for'),
  ('drawing_ready', 'Ready for draw to begin'),
  ('completed', 'Draw completed, winners determined'),
  ('cancelled', 'Event cancelled');

INSERT INTO ticket_states (key, description) VALUES
  ('sold', 'Sold and eligible for the draw'),
  ('voided', 'Voided with its order; never eligible, never resold'),
  ('winner', 'Drawn as a winner'),
  ('claimed', 'Prize claimed');

INSERT INTO payment_statuses (key, description) VALUES
  ('pending', 'Payment not yet confirmed'),
  ('completed', 'Paid (cash taken or card terminal approved)'),
  ('failed', 'Payment failed'),
  ('refunded', 'Money returned to the buyer');

INSERT INTO order_sources (key, description) VALUES
  ('online', 'Sold on the web'),
  ('rsu', 'Sold on a raffle sales unit');

INSERT INTO rsu_states (key, description) VALUES
  ('registered', 'Created by an admin, waiting for enrollment'),
  ('active', 'Enrolled and selling'),
  ('suspended', 'Temporarily not allowed to sell'),
  ('lost', 'Lost or destroyed; excluded from reconciliation by an admin'),
  ('decommissioned', 'Retired; its keys are revoked');

INSERT INTO offline_sync_statuses (key, description) VALUES
  ('pending', 'Not yet received by the server'),
  ('synced', 'Received and applied'),
  ('failed', 'Received and rejected');

-- Organizations, users and RBAC ----------------------------------------------------------------

CREATE TABLE organizations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             TEXT    NOT NULL CHECK (name <> ''),
    description      TEXT,
    license_number   TEXT,
    primary_currency CHAR(3) NOT NULL CHECK (primary_currency ~ '^[A-Z]{3}$'),
    -- rsuSettings, taxSettings, … (seed 002 camelCase keys).
    settings         JSONB   NOT NULL DEFAULT '{}'::JSONB,
    -- Added: bumped by every change that alters what a device pulls (GET /v1/rsu/config).
    config_version   BIGINT  NOT NULL DEFAULT 1,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID
);

CREATE TABLE users (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Nullable here: kiosk operators have no Cognito identity in this deployment.
    cognito_sub      TEXT UNIQUE,
    display_name     TEXT NOT NULL CHECK (display_name <> ''),
    -- Added: PBKDF2 PIN hash for kiosk operators (rsu_core::pin format), NULL for web users.
    pin_hash         TEXT CHECK (pin_hash IS NULL OR pin_hash LIKE 'pbkdf2-sha256$%'),
    last_login       TIMESTAMPTZ,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE roles (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Added: a stable key the code refers to (seller and supervisor are the kiosk roles).
    key              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    description      TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE permissions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             TEXT NOT NULL,
    description      TEXT,
    resource_type    TEXT NOT NULL,
    action           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (resource_type, action)
);

CREATE TABLE role_permissions (
    role_id          UUID NOT NULL REFERENCES roles(id),
    permission_id    UUID NOT NULL REFERENCES permissions(id),
    PRIMARY KEY (role_id, permission_id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE organization_users (
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id          UUID NOT NULL REFERENCES roles(id),
    is_default       BOOLEAN DEFAULT FALSE,
    joined_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (organization_id, user_id)
);

INSERT INTO roles (key, name, description) VALUES
  ('system_admin', 'System Administrator', 'Full access to all system functions'),
  ('organization_admin', 'Organization Administrator', 'Full access within their organization'),
  ('raffle_manager', 'Raffle Manager', 'Can create and manage raffles, but not system settings'),
  ('seller', 'RSU Operator', 'Can sell tickets on the organization''s RSUs'),
  ('supervisor', 'RSU Supervisor', 'Sells, approves voids and reprints, closes shifts'),
  ('viewer', 'Viewer', 'Read-only access to reports and raffle information');

INSERT INTO permissions (name, resource_type, action) VALUES
  ('Sell tickets', 'rsu', 'sell'),
  ('Void orders', 'order', 'void'),
  ('Approve reprints', 'order', 'reprint'),
  ('Close shifts', 'shift', 'close'),
  ('Manage events', 'event', 'manage'),
  ('Confirm reconciliation', 'event', 'reconcile'),
  ('Run draws', 'draw', 'run');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON
     (r.key = 'seller' AND p.action = 'sell')
  OR (r.key = 'supervisor' AND p.action IN ('sell', 'void', 'reprint', 'close'))
  OR (r.key IN ('system_admin', 'organization_admin'))
  OR (r.key = 'raffle_manager' AND p.action IN ('manage', 'reconcile', 'run'));

CREATE TABLE addresses (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    street     TEXT,
    city       TEXT,
    state      TEXT,
    zip_code   TEXT,
    country    CHAR(2)
);

CREATE TABLE venues (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (name <> ''),
    description      TEXT,
    address_id       UUID REFERENCES addresses(id),
    capacity         INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    timezone         TEXT,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID
);

CREATE INDEX idx_venues_org ON venues(organization_id);
CREATE INDEX idx_users_last_login ON users(last_login);
CREATE INDEX idx_role_permissions_role ON role_permissions(role_id);
CREATE INDEX idx_org_users_role ON organization_users(organization_id, role_id);

-- Events and their configuration ---------------------------------------------------------------

CREATE TABLE events (
    id                       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                     TEXT NOT NULL CHECK (name <> ''),
    description              TEXT,
    organization_id          UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    venue_id                 UUID REFERENCES venues(id),
    -- Added: the public identifier printed on receipts, e.g. RAFFLE-2026-001.
    event_identifier         TEXT NOT NULL,
    state                    TEXT NOT NULL REFERENCES event_states(key),
    -- Added as typed columns because the server checks every sale against them
    -- (seed 002 keeps them inside configuration).
    currency                 CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    sales_start_time         TIMESTAMPTZ NOT NULL,
    sales_end_time           TIMESTAMPTZ NOT NULL,
    draw_time                TIMESTAMPTZ NOT NULL,
    -- jackpotSeedAmount, jackpotStartingAmount (minor units), jackpotPercentageBp,
    -- revenueCalculationMethod, jurisdiction (the profile of DESIGN §4).
    configuration            JSONB NOT NULL,
    -- {"ranges": [{"type": "rsu"|"online"|"reserve", "start", "end", "defaultAllocationSize"}]};
    -- running totals are computed from allocations and tickets, never stored (seed 000 note 15).
    ticket_allocation        JSONB NOT NULL,
    max_tickets              INTEGER NOT NULL CHECK (max_tickets > 0),
    -- Added: when the event entered sales_closed; sales made after it are refused even if
    -- sales_end_time is later (an early close).
    sales_closed_at          TIMESTAMPTZ,
    reconciliation_confirmed_at TIMESTAMPTZ,
    reconciliation_confirmed_by UUID,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by               UUID,
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by               UUID,
    UNIQUE (organization_id, event_identifier),
    CHECK (sales_start_time < sales_end_time),
    CHECK (sales_end_time <= draw_time)
);

CREATE TABLE ticket_package_templates (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT,
    ticket_count     INTEGER NOT NULL CHECK (ticket_count > 0),
    price            BIGINT NOT NULL CHECK (price >= 0), -- minor units
    currency         CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    display_order    INTEGER,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID
);

CREATE TABLE ticket_packages (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (name <> ''),
    description      TEXT,
    ticket_count     INTEGER NOT NULL CHECK (ticket_count > 0),
    price            BIGINT NOT NULL CHECK (price >= 0), -- minor units; the current price
    currency         CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    display_order    INTEGER NOT NULL DEFAULT 0,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    -- Pricing windows; only where the event's jurisdiction profile has priceLock = false.
    active_from      TIMESTAMPTZ,
    active_to        TIMESTAMPTZ,
    perk_ids         UUID[] DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID,
    CHECK (active_from IS NULL OR active_to IS NULL OR active_from < active_to)
);

CREATE TABLE prize_templates (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT,
    type             TEXT NOT NULL CHECK (type IN ('fixed', 'percentage')),
    value            BIGINT CHECK (value IS NULL OR value >= 0),          -- minor units (seed: NUMERIC)
    percentage_bp    INTEGER CHECK (percentage_bp IS NULL OR percentage_bp BETWEEN 0 AND 10000), -- basis points
    currency         CHAR(3),
    metadata         JSONB DEFAULT '{}'::JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID
);

CREATE TABLE prizes (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (name <> ''),
    description      TEXT,
    type             TEXT NOT NULL CHECK (type IN ('fixed', 'percentage')),
    value            BIGINT CHECK (value IS NULL OR value >= 0),          -- minor units (seed: NUMERIC)
    percentage_bp    INTEGER CHECK (percentage_bp IS NULL OR percentage_bp BETWEEN 0 AND 10000), -- basis points
    currency         CHAR(3),
    position         SMALLINT NOT NULL CHECK (position > 0),
    winner_count     SMALLINT NOT NULL DEFAULT 1 CHECK (winner_count > 0),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID,
    CHECK ((type = 'fixed' AND value IS NOT NULL) OR (type = 'percentage' AND percentage_bp IS NOT NULL))
);

CREATE INDEX idx_events_org ON events(organization_id);
CREATE INDEX idx_events_state ON events(state);
CREATE INDEX idx_packages_event ON ticket_packages(event_id);
CREATE INDEX idx_prizes_event_pos ON prizes(event_id, position);
CREATE INDEX idx_event_config_gin ON events USING gin (configuration jsonb_path_ops);

-- Sales and ticketing --------------------------------------------------------------------------

CREATE TABLE rsus (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    venue_id         UUID REFERENCES venues(id),
    -- Added: the number in validation numbers (RSU001-…), unique per organization.
    rsu_no           INTEGER NOT NULL CHECK (rsu_no BETWEEN 1 AND 999999),
    name             TEXT NOT NULL CHECK (name <> ''),
    description      TEXT,
    -- Nullable until the device enrolls (the admin registers the RSU before it exists on a network).
    device_identifier TEXT UNIQUE,
    state            TEXT NOT NULL REFERENCES rsu_states(key),
    -- maxOfflineTickets, syncIntervalMinutes, printerSettings, lowWaterMark (seed 002).
    configuration    JSONB NOT NULL DEFAULT '{}'::JSONB,
    -- Added: HMAC key for validation number tags, issued at enrollment. Secret.
    validation_key   BYTEA CHECK (validation_key IS NULL OR length(validation_key) = 32),
    -- Added: the latest device epoch (0 = never enrolled).
    current_epoch    INTEGER NOT NULL DEFAULT 0 CHECK (current_epoch >= 0),
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    current_operator_id UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID,
    UNIQUE (organization_id, rsu_no)
);

CREATE TABLE rsu_allocations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    rsu_id           UUID NOT NULL REFERENCES rsus(id) ON DELETE CASCADE,
    start_number     INTEGER NOT NULL CHECK (start_number > 0),
    end_number       INTEGER NOT NULL,
    -- The server's view: one past the highest number sold from this allocation.
    next_draw_number INTEGER NOT NULL,
    total_tickets    INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('active', 'exhausted', 'released')),
    tickets_sold     INTEGER NOT NULL DEFAULT 0 CHECK (tickets_sold >= 0),
    tickets_voided   INTEGER NOT NULL DEFAULT 0 CHECK (tickets_voided >= 0),
    tickets_available INTEGER NOT NULL,
    -- Added: numbers from here to end_number were given back by the device (allocation_release).
    released_from    INTEGER,
    allocated_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    allocated_by     UUID,
    exhausted_at     TIMESTAMPTZ,
    metadata         JSONB DEFAULT '{}'::JSONB,
    CHECK (start_number <= end_number),
    CHECK (total_tickets = end_number - start_number + 1),
    CHECK (next_draw_number BETWEEN start_number AND end_number + 1),
    CHECK (released_from IS NULL OR released_from BETWEEN start_number AND end_number),
    -- DESIGN §3 invariant 2: allocations of one event never overlap, whichever device holds them.
    CONSTRAINT rsu_allocations_no_overlap EXCLUDE USING gist (
        event_id WITH =,
        int4range(start_number, end_number, '[]') WITH &&
    )
);

CREATE TABLE orders (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(), -- the sale's localId for RSU sales
    validation_number TEXT NOT NULL,
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    package_id       UUID REFERENCES ticket_packages(id),
    rsu_id           UUID REFERENCES rsus(id),
    rsu_allocation_id UUID REFERENCES rsu_allocations(id),
    unit_price       BIGINT CHECK (unit_price IS NULL OR unit_price >= 0), -- added: package price at sale
    total_amount     BIGINT NOT NULL CHECK (total_amount >= 0),            -- minor units
    currency         CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_status   TEXT NOT NULL REFERENCES payment_statuses(key),
    payment_method   TEXT CHECK (payment_method IN ('cash', 'card')),      -- added
    payment_reference TEXT,
    ticket_count     INTEGER NOT NULL CHECK (ticket_count > 0),
    customer_info    JSONB,
    source           TEXT NOT NULL REFERENCES order_sources(key),
    operator_id      UUID,
    shift_id         UUID,                                                 -- added
    is_offline_sale  BOOLEAN NOT NULL DEFAULT FALSE,
    offline_sync_status TEXT REFERENCES offline_sync_statuses(key),
    -- Added: where the sale sits in the device journal.
    journal_epoch    INTEGER,
    journal_seq      BIGINT,
    -- Added: arrived after the event's sales end time (sold before it): accepted and flagged.
    is_late          BOOLEAN NOT NULL DEFAULT FALSE,
    sold_at          TIMESTAMPTZ NOT NULL,  -- device time of the sale
    sold_by          UUID,
    received_at      TIMESTAMPTZ,           -- added: server receive time
    voided_at        TIMESTAMPTZ,
    voided_by        UUID,                  -- the supervisor who approved the void
    voided_reason    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by       UUID,
    CONSTRAINT orders_validation_number_key UNIQUE (validation_number),
    CHECK ((voided_at IS NULL) = (voided_reason IS NULL)),
    CHECK (source <> 'rsu' OR (rsu_id IS NOT NULL AND journal_seq IS NOT NULL))
);

CREATE TABLE tickets (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    draw_number      INTEGER NOT NULL CHECK (draw_number > 0),
    state            TEXT NOT NULL REFERENCES ticket_states(key),
    order_id         UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- DESIGN §3 invariant 2: a draw number is sold at most once per event.
    CONSTRAINT tickets_event_draw_number_key UNIQUE (event_id, draw_number)
);

CREATE INDEX idx_orders_event ON orders(event_id);
CREATE INDEX idx_orders_payment_status ON orders(payment_status);
CREATE INDEX idx_orders_rsu ON orders(rsu_id);
CREATE INDEX idx_tickets_event_state ON tickets(event_id, state);
CREATE INDEX idx_tickets_order ON tickets(order_id);
CREATE INDEX idx_rsu_alloc_event ON rsu_allocations(event_id);
CREATE INDEX idx_rsu_allocation_rsu ON rsu_allocations(rsu_id);
CREATE INDEX idx_rsu_allocation_state ON rsu_allocations(state);
CREATE INDEX idx_orders_created_at ON orders(created_at);
CREATE INDEX idx_orders_event_status ON orders(event_id, payment_status);
CREATE INDEX idx_orders_sold_at ON orders(sold_at);

-- Draws and claims -----------------------------------------------------------------------------

CREATE TABLE draw_executions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'in_progress', 'completed', 'failed')),
    started_at       TIMESTAMPTZ NOT NULL,
    rng_seed         TEXT NOT NULL,
    conducted_by     UUID NOT NULL,
    system_checksum  TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE draw_results (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    draw_execution_id UUID NOT NULL REFERENCES draw_executions(id) ON DELETE CASCADE,
    prize_id         UUID NOT NULL REFERENCES prizes(id) ON DELETE CASCADE,
    position         SMALLINT NOT NULL,
    winning_ticket_id UUID NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    winning_number   INTEGER NOT NULL,
    prize_value_at_draw BIGINT NOT NULL CHECK (prize_value_at_draw >= 0), -- minor units
    selected_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE prize_claims (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    draw_result_id   UUID NOT NULL REFERENCES draw_results(id) ON DELETE CASCADE,
    claimed_at       TIMESTAMPTZ NOT NULL,
    claimed_by       UUID NOT NULL,
    verification_method TEXT NOT NULL,
    verified_by      UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_draw_results_execution ON draw_results(draw_execution_id);
CREATE INDEX idx_prize_claims_result ON prize_claims(draw_result_id);
CREATE INDEX idx_draw_result_ticket ON draw_results(winning_ticket_id);
CREATE INDEX idx_organization_settings_gin ON organizations USING gin (settings jsonb_path_ops);

-- From seed 001: critical events, system configuration, audit log ------------------------------

CREATE TABLE critical_events (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type       TEXT NOT NULL,
    event_id         UUID,
    rsu_id           UUID,
    user_id          UUID,
    severity         TEXT NOT NULL CHECK (severity IN ('INFO', 'WARN', 'WARNING', 'ERROR', 'CRITICAL')),
    description      TEXT,
    metadata         JSONB DEFAULT '{}'::JSONB,
    timestamp        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    ttl              BIGINT,
    -- Added: the device journal entry this came from (NULL for server-side events); makes
    -- device-reported events idempotent.
    journal_entry_id UUID,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT critical_events_journal_entry_key UNIQUE (journal_entry_id)
);

CREATE INDEX idx_critical_events_type_time ON critical_events(event_type, timestamp DESC);
CREATE INDEX idx_critical_events_event ON critical_events(event_id);

CREATE TABLE system_configurations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    version          TEXT NOT NULL,
    effective_from   TIMESTAMPTZ NOT NULL,
    effective_to     TIMESTAMPTZ,
    settings         JSONB NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by       UUID,
    CHECK (effective_to IS NULL OR effective_from < effective_to)
);

INSERT INTO system_configurations (version, effective_from, settings) VALUES (
  '1.0.0', '2000-01-01T00:00:00Z',
  '{"rsu": {"defaultMaxOfflineTickets": 100, "defaultSyncIntervalMinutes": 5,
            "apiKeyRotationDays": 90, "validationNumberBlockSize": 100,
            "offlineSaleExpirationMinutes": 1440},
    "dataRetention": {"criticalEventsDays": 1095, "ticketDataDays": 2555},
    "ticketGeneration": {"strategy": "just_in_time", "batchSize": 1000}}'::JSONB
);

CREATE TABLE audit_log (
    id               BIGSERIAL PRIMARY KEY,
    table_name       TEXT NOT NULL,
    operation        TEXT NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    record_id        UUID NOT NULL,
    old_data         JSONB,
    new_data         JSONB,
    changed_by       UUID,
    changed_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_audit_log_table_time ON audit_log(table_name, changed_at DESC);
