-- Data retention (issue 14, docs/server.md "Data retention"): when `admin purge` removed an
-- event's ticket data, so the reconciliation report can say why its tickets are gone.
ALTER TABLE events ADD COLUMN ticket_data_purged_at TIMESTAMPTZ;

-- The audit log's own retention (seed 001 keeps the table; the system configuration gains the
-- setting next to criticalEventsDays and ticketDataDays).
UPDATE system_configurations
   SET settings = jsonb_set(settings, '{dataRetention,auditLogDays}', '2555'::jsonb, true)
 WHERE settings->'dataRetention' IS NOT NULL AND settings->'dataRetention'->'auditLogDays' IS NULL;

CREATE INDEX idx_audit_log_time ON audit_log(changed_at);
CREATE INDEX idx_critical_events_time ON critical_events(timestamp);
