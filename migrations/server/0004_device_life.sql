-- A device's whole life (docs/sync.md "Replacement, rotation and recovery"): a validation key per
-- epoch, ranges withheld from a new epoch that a lost database may have sold from, key
-- successions that can be revoked together, and when each epoch last pulled configuration.

-- Each epoch signs validation numbers with its own key; numbers of earlier epochs still verify
-- with theirs. Epochs enrolled before this migration used the RSU's one key.
ALTER TABLE rsu_epochs ADD COLUMN validation_key BYTEA
    CHECK (validation_key IS NULL OR length(validation_key) = 32);
UPDATE rsu_epochs e SET validation_key = r.validation_key FROM rsus r WHERE r.id = e.rsu_id;

-- The last time the epoch pulled configuration: from then on it may hold every allocation that
-- existed at that moment (and so may have sold from them without syncing).
ALTER TABLE rsu_epochs ADD COLUMN config_pulled_at TIMESTAMPTZ;
UPDATE rsu_epochs SET config_pulled_at = COALESCE(last_push_at, last_heartbeat_at, started_at);

-- Whether the epoch was enrolled with a continuity proof (same database as the epoch before).
ALTER TABLE rsu_epochs ADD COLUMN continued_from INTEGER;

-- A range an earlier epoch may have sold from without syncing is withheld from the new epoch
-- until an administrator confirms that journal was synced or imported (admin release-withheld).
ALTER TABLE rsu_allocations ADD COLUMN withheld_at TIMESTAMPTZ;
ALTER TABLE rsu_allocations ADD COLUMN withheld_reason TEXT;

-- Key succession: which key registered this one by rotation, and when it was first used (a
-- rotation leaves at most one unconfirmed successor per key).
ALTER TABLE rsu_keys ADD COLUMN registered_by UUID REFERENCES rsu_keys(id);
ALTER TABLE rsu_keys ADD COLUMN confirmed_at TIMESTAMPTZ;
UPDATE rsu_keys SET confirmed_at = valid_from;
CREATE INDEX idx_rsu_keys_registered_by ON rsu_keys(registered_by) WHERE registered_by IS NOT NULL;
