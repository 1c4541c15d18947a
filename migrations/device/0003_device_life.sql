-- Device store, version 3: what a device needs to live through replacement, re-enrollment and
-- key expiry (docs/sync.md "Replacement, rotation and recovery").

-- The server withholds a range an earlier epoch of this RSU may have sold from without syncing;
-- nothing is sold from it until the server says otherwise.
ALTER TABLE allocations ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0 CHECK (withheld IN (0, 1));

-- When the device's current key expires (from enrollment, rotation and every pull); rsu-syncd
-- rotates ahead of it.
ALTER TABLE device ADD COLUMN key_expires_at TEXT;

-- The highest corrected time the device has seen. Sale rules never use an earlier time, so a
-- clock moved back (by the server's time or by hand) cannot reopen a closed sales window.
ALTER TABLE device ADD COLUMN clock_high_water TEXT;

-- A key rotation in flight: the key that signed the rotation stays until the new one has been
-- used successfully once (then its file is removed).
ALTER TABLE sync_state ADD COLUMN previous_key_id TEXT;
