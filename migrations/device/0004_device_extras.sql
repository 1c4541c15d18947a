-- Device store: extras of issue 15. Released migrations are never edited: add a new file instead.

-- Keypad lockouts in a row since the last accepted PIN. Each lockout lasts longer than the one
-- before (5, 15, then 60 minutes); an accepted PIN sets it back to 0.
ALTER TABLE device ADD COLUMN pin_lockouts INTEGER NOT NULL DEFAULT 0 CHECK (pin_lockouts >= 0);
