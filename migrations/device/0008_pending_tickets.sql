-- The tickets of unsynced sales, kept as a running total (issue 16): every sale checks the
-- offline cap against it, and summing the pending sales on each sale made a sale slower the
-- longer the device was offline. Triggers keep it equal to
--   SELECT sum(s.ticket_count) FROM sales s JOIN journal j USING (epoch, seq)
--    WHERE j.sync_status = 'pending'
-- whatever writes the rows (tested against that query).
CREATE TABLE pending_tickets (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    tickets  INTEGER NOT NULL CHECK (tickets >= 0)
);
INSERT INTO pending_tickets (id, tickets)
SELECT 1, coalesce(sum(s.ticket_count), 0)
  FROM sales s JOIN journal j ON j.epoch = s.epoch AND j.seq = s.seq
 WHERE j.sync_status = 'pending';

-- A sale is written after its journal entry, in the same transaction.
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

-- Every sale reads the latest entry time (time never runs backwards for the rules): without an
-- index `max(created_at)` scanned the whole journal, so a sale slowed as the journal grew.
CREATE INDEX journal_created_at ON journal(created_at);
