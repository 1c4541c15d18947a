-- Device store, version 5: closing the device for an event (DESIGN §4 "At device close, unused
-- ranges are released"; docs/kiosk.md "Closing the device").

-- When and by whom this device was closed for the event: no sale after it, whatever the clock.
ALTER TABLE events ADD COLUMN closed_at TEXT;
ALTER TABLE events ADD COLUMN closed_by TEXT;
-- A `close` command from the server waits here until the last receipt is confirmed.
ALTER TABLE events ADD COLUMN close_requested_at TEXT;
