-- What the server checks that it did not before (issue 9).
--
-- * Validation numbers are unique per organization in their canonical form (DESIGN §4), not as
--   text across all organizations: two organizations may both issue RSU001-2026-000123-…, and a
--   lower-case or unpadded spelling of an existing number is the same number.
-- * A device's sale seq is unique per RSU across its epochs (DESIGN §4 "A device's life").
-- * A journal entry id is used by one stored entry only (the entries answered `conflict` because
--   they reused one are kept beside it), so two RSUs pushing the same entryId at the same time
--   cannot both be applied.

-- The organization of an order, copied from its event when the order is written, so the
-- uniqueness of validation numbers can be a constraint. No foreign key: event_id already has one
-- and orders are the hottest insert of the server.
ALTER TABLE orders ADD COLUMN organization_id UUID;
-- The device's sale sequence of an RSU sale (the <seq> of its validation number).
ALTER TABLE orders ADD COLUMN sale_seq BIGINT CHECK (sale_seq IS NULL OR sale_seq > 0);

UPDATE orders o SET organization_id = e.organization_id FROM events e WHERE e.id = o.event_id;

-- Unique across organizations no more (replaced below, per organization).
ALTER TABLE orders DROP CONSTRAINT orders_validation_number_key;

-- Canonical form: upper case, rsuNo at least 3 digits, seq at least 6, tag with Crockford's
-- O→0, I/L→1 (rsu_core::validation::ValidationNumber::to_string of what parse reads).
UPDATE orders SET validation_number = c.canonical
  FROM (SELECT id, m[1] || CASE WHEN length(m[2]) < 3 THEN lpad(m[2], 3, '0') ELSE m[2] END
                    || '-' || m[3] || '-'
                    || CASE WHEN length(m[4]) < 6 THEN lpad(m[4], 6, '0') ELSE m[4] END
                    || '-' || translate(m[5], 'OIL', '011') AS canonical
          FROM (SELECT id, regexp_match(upper(btrim(validation_number)),
                       '^([A-Z]+)0*([0-9]+)-([0-9]{4})-0*([0-9]+)-([0-9A-Z]{4})$') AS m
                  FROM orders) x
         WHERE m IS NOT NULL) c
 WHERE orders.id = c.id AND orders.validation_number <> c.canonical;

-- The sale seq of RSU orders, from the journal entry each came from.
UPDATE orders o SET sale_seq = (j.payload->>'saleSeq')::BIGINT
  FROM device_journal j
 WHERE o.source = 'rsu' AND j.rsu_id = o.rsu_id AND j.epoch = o.journal_epoch AND j.seq = o.journal_seq
   AND j.payload->>'saleSeq' ~ '^[1-9][0-9]{0,17}$';

-- Refuse to migrate, saying why, if the data already breaks a rule (it cannot be fixed here:
-- every row is evidence a person has to look at).
DO $$
DECLARE
    n BIGINT;
BEGIN
    SELECT COUNT(*) INTO n FROM (SELECT 1 FROM orders WHERE organization_id IS NOT NULL
                                  GROUP BY organization_id, validation_number HAVING COUNT(*) > 1) d;
    IF n > 0 THEN
        RAISE EXCEPTION '% validation numbers are held by more than one order of the same organization once written canonically; resolve them (SELECT organization_id, validation_number FROM orders GROUP BY 1, 2 HAVING COUNT(*) > 1) before upgrading', n;
    END IF;
    SELECT COUNT(*) INTO n FROM (SELECT 1 FROM orders WHERE sale_seq IS NOT NULL
                                  GROUP BY rsu_id, sale_seq HAVING COUNT(*) > 1) d;
    IF n > 0 THEN
        RAISE EXCEPTION '% sale seqs are used by more than one order of the same RSU; resolve them before upgrading', n;
    END IF;
    SELECT COUNT(*) INTO n FROM (SELECT 1 FROM device_journal WHERE status <> 'conflict'
                                  GROUP BY entry_id HAVING COUNT(*) > 1) d;
    IF n > 0 THEN
        RAISE EXCEPTION '% journal entry ids are used by more than one stored entry; resolve them before upgrading', n;
    END IF;
END $$;

ALTER TABLE orders ALTER COLUMN organization_id SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_organization_validation_number_key
    UNIQUE (organization_id, validation_number);
ALTER TABLE orders ADD CONSTRAINT orders_rsu_sale_seq_key UNIQUE (rsu_id, sale_seq);
-- idx_orders_rsu (rsu_id) is a prefix of orders_rsu_sale_seq_key: an order insert keeps paying
-- for as many indexes as before.
DROP INDEX IF EXISTS idx_orders_rsu;

-- Replaces idx_device_journal_entry (same column, same cost per insert).
CREATE UNIQUE INDEX device_journal_entry_id_key ON device_journal (entry_id) WHERE status <> 'conflict';
DROP INDEX IF EXISTS idx_device_journal_entry;
