-- The web dashboard (issue 13, docs/dashboard.md): the app builds an organization approved, each
-- device's clock offset, and per-minute sales totals kept as orders are written so that no page
-- sums the orders or scans the tickets of an event on every refresh.

-- The app builds (SHA-256 of the kiosk binary, as devices report it in `appHash`) an
-- organization approved (`server-stub admin approve-app-hash`). The devices page warns about a
-- device running any other build.
CREATE TABLE approved_app_hashes (
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    app_hash         TEXT NOT NULL CHECK (btrim(app_hash) <> '' AND length(app_hash) <= 200),
    -- The version this build reports, for people (the hash is what is compared).
    app_version      TEXT,
    note             TEXT,
    approved_by_name TEXT,
    approved_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (organization_id, app_hash)
);

-- The device's clock minus the server's, in seconds, from the signed timestamp of its latest
-- heartbeat (positive: the device is ahead). Requests more than 300 s off are refused, so a
-- large value here warns before the device stops syncing.
ALTER TABLE rsu_epochs ADD COLUMN clock_offset_secs INTEGER;

-- Sales per event, source RSU and minute of sale (device time), kept by the statement triggers
-- below: one row per RSU and minute, so concurrent pushes of different devices never update the
-- same row, and an event's totals and its sales-per-minute chart read a few thousand rows
-- instead of every order. `rsu_key` is the nil UUID for orders without an RSU (online sales).
-- Net sales = gross − voided_amount, as the draw and the report compute them.
CREATE TABLE event_sales_minutes (
    event_id         UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    rsu_key          UUID NOT NULL,
    minute           TIMESTAMPTZ NOT NULL,
    orders           BIGINT NOT NULL DEFAULT 0,
    tickets          BIGINT NOT NULL DEFAULT 0,
    gross            BIGINT NOT NULL DEFAULT 0,
    voided_orders    BIGINT NOT NULL DEFAULT 0,
    voided_tickets   BIGINT NOT NULL DEFAULT 0,
    voided_amount    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, rsu_key, minute)
);

-- The triggers add what a statement inserted and subtract what it deleted; an UPDATE (a void)
-- does both, so whatever column changed is counted right. A transition table can only be named
-- by a trigger that declares it, hence one function per operation.
CREATE FUNCTION event_sales_minutes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_sales_minutes AS s (event_id, rsu_key, minute, orders, tickets, gross,
                                          voided_orders, voided_tickets, voided_amount)
    SELECT d.event_id, d.rsu_key, d.minute, sum(d.orders), sum(d.tickets), sum(d.gross),
           sum(d.voided_orders), sum(d.voided_tickets), sum(d.voided_amount)
      FROM (
        SELECT n.event_id, COALESCE(n.rsu_id, '00000000-0000-0000-0000-000000000000'::uuid) AS rsu_key,
               date_trunc('minute', n.sold_at) AS minute, 1::int8 AS orders,
               n.ticket_count::int8 AS tickets, n.total_amount AS gross,
               (n.voided_at IS NOT NULL)::int::int8 AS voided_orders,
               (CASE WHEN n.voided_at IS NOT NULL THEN n.ticket_count ELSE 0 END)::int8 AS voided_tickets,
               (CASE WHEN n.voided_at IS NOT NULL THEN n.total_amount ELSE 0 END) AS voided_amount
          FROM new_orders n
      ) d
     GROUP BY 1, 2, 3
    -- An order an UPDATE did not change in any counted column cancels out.
    HAVING sum(d.orders) <> 0 OR sum(d.tickets) <> 0 OR sum(d.gross) <> 0
        OR sum(d.voided_orders) <> 0 OR sum(d.voided_amount) <> 0
    ON CONFLICT (event_id, rsu_key, minute) DO UPDATE SET
        orders = s.orders + EXCLUDED.orders,
        tickets = s.tickets + EXCLUDED.tickets,
        gross = s.gross + EXCLUDED.gross,
        voided_orders = s.voided_orders + EXCLUDED.voided_orders,
        voided_tickets = s.voided_tickets + EXCLUDED.voided_tickets,
        voided_amount = s.voided_amount + EXCLUDED.voided_amount;
    RETURN NULL;
END $$;

CREATE FUNCTION event_sales_minutes_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_sales_minutes AS s (event_id, rsu_key, minute, orders, tickets, gross,
                                          voided_orders, voided_tickets, voided_amount)
    SELECT d.event_id, d.rsu_key, d.minute, sum(d.orders), sum(d.tickets), sum(d.gross),
           sum(d.voided_orders), sum(d.voided_tickets), sum(d.voided_amount)
      FROM (
        SELECT o.event_id, COALESCE(o.rsu_id, '00000000-0000-0000-0000-000000000000'::uuid) AS rsu_key,
               date_trunc('minute', o.sold_at) AS minute, -1::int8 AS orders,
               -o.ticket_count::int8 AS tickets, -o.total_amount AS gross,
               -(o.voided_at IS NOT NULL)::int::int8 AS voided_orders,
               -(CASE WHEN o.voided_at IS NOT NULL THEN o.ticket_count ELSE 0 END)::int8 AS voided_tickets,
               -(CASE WHEN o.voided_at IS NOT NULL THEN o.total_amount ELSE 0 END) AS voided_amount
          FROM old_orders o
      ) d
     GROUP BY 1, 2, 3
    -- An order an UPDATE did not change in any counted column cancels out.
    HAVING sum(d.orders) <> 0 OR sum(d.tickets) <> 0 OR sum(d.gross) <> 0
        OR sum(d.voided_orders) <> 0 OR sum(d.voided_amount) <> 0
    ON CONFLICT (event_id, rsu_key, minute) DO UPDATE SET
        orders = s.orders + EXCLUDED.orders,
        tickets = s.tickets + EXCLUDED.tickets,
        gross = s.gross + EXCLUDED.gross,
        voided_orders = s.voided_orders + EXCLUDED.voided_orders,
        voided_tickets = s.voided_tickets + EXCLUDED.voided_tickets,
        voided_amount = s.voided_amount + EXCLUDED.voided_amount;
    RETURN NULL;
END $$;

CREATE FUNCTION event_sales_minutes_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_sales_minutes AS s (event_id, rsu_key, minute, orders, tickets, gross,
                                          voided_orders, voided_tickets, voided_amount)
    SELECT d.event_id, d.rsu_key, d.minute, sum(d.orders), sum(d.tickets), sum(d.gross),
           sum(d.voided_orders), sum(d.voided_tickets), sum(d.voided_amount)
      FROM (
        SELECT n.event_id, COALESCE(n.rsu_id, '00000000-0000-0000-0000-000000000000'::uuid) AS rsu_key,
               date_trunc('minute', n.sold_at) AS minute, 1::int8 AS orders,
               n.ticket_count::int8 AS tickets, n.total_amount AS gross,
               (n.voided_at IS NOT NULL)::int::int8 AS voided_orders,
               (CASE WHEN n.voided_at IS NOT NULL THEN n.ticket_count ELSE 0 END)::int8 AS voided_tickets,
               (CASE WHEN n.voided_at IS NOT NULL THEN n.total_amount ELSE 0 END) AS voided_amount
          FROM new_orders n
        UNION ALL
        SELECT o.event_id, COALESCE(o.rsu_id, '00000000-0000-0000-0000-000000000000'::uuid) AS rsu_key,
               date_trunc('minute', o.sold_at) AS minute, -1::int8 AS orders,
               -o.ticket_count::int8 AS tickets, -o.total_amount AS gross,
               -(o.voided_at IS NOT NULL)::int::int8 AS voided_orders,
               -(CASE WHEN o.voided_at IS NOT NULL THEN o.ticket_count ELSE 0 END)::int8 AS voided_tickets,
               -(CASE WHEN o.voided_at IS NOT NULL THEN o.total_amount ELSE 0 END) AS voided_amount
          FROM old_orders o
      ) d
     GROUP BY 1, 2, 3
    -- An order an UPDATE did not change in any counted column cancels out.
    HAVING sum(d.orders) <> 0 OR sum(d.tickets) <> 0 OR sum(d.gross) <> 0
        OR sum(d.voided_orders) <> 0 OR sum(d.voided_amount) <> 0
    ON CONFLICT (event_id, rsu_key, minute) DO UPDATE SET
        orders = s.orders + EXCLUDED.orders,
        tickets = s.tickets + EXCLUDED.tickets,
        gross = s.gross + EXCLUDED.gross,
        voided_orders = s.voided_orders + EXCLUDED.voided_orders,
        voided_tickets = s.voided_tickets + EXCLUDED.voided_tickets,
        voided_amount = s.voided_amount + EXCLUDED.voided_amount;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_event_sales_minutes_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION event_sales_minutes_inserted();
CREATE TRIGGER orders_event_sales_minutes_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION event_sales_minutes_updated();
CREATE TRIGGER orders_event_sales_minutes_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_orders
    FOR EACH STATEMENT EXECUTE FUNCTION event_sales_minutes_deleted();

-- Orders written before this migration.
INSERT INTO event_sales_minutes (event_id, rsu_key, minute, orders, tickets, gross,
                                 voided_orders, voided_tickets, voided_amount)
SELECT event_id, COALESCE(rsu_id, '00000000-0000-0000-0000-000000000000'::uuid),
       date_trunc('minute', sold_at), count(*), sum(ticket_count), sum(total_amount),
       count(*) FILTER (WHERE voided_at IS NOT NULL),
       COALESCE(sum(ticket_count) FILTER (WHERE voided_at IS NOT NULL), 0),
       COALESCE(sum(total_amount) FILTER (WHERE voided_at IS NOT NULL), 0)
  FROM orders GROUP BY 1, 2, 3;

-- The exceptions page lists an event's late sales; they are few, so a partial index costs the
-- other orders nothing on insert (one predicate check).
CREATE INDEX idx_orders_late ON orders (event_id) WHERE is_late;
