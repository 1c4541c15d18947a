-- Indexes every synced sale pays for on insert but no query needs (docs/server.md "Benchmark").
-- Every order insert maintained 8 indexes and every ticket insert 4; these three are redundant:
--
-- * idx_orders_event (event_id) is a prefix of idx_orders_event_status (event_id, payment_status),
--   which answers every lookup by event_id.
-- * idx_orders_payment_status (payment_status) indexes a column of four values; queries by status
--   are per event and use idx_orders_event_status.
-- * idx_tickets_event_state (event_id, state): lookups by event use
--   tickets_event_draw_number_key (event_id, draw_number); state has three values and almost
--   every ticket is 'sold', so the index never narrows a scan usefully; voiding goes by order_id
--   (idx_tickets_order).
DROP INDEX IF EXISTS idx_orders_event;
DROP INDEX IF EXISTS idx_orders_payment_status;
DROP INDEX IF EXISTS idx_tickets_event_state;
