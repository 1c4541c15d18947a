-- Admin people (issue 13, docs/server.md "Accounts and roles"): users sign in by email, and the
-- permissions the admin routes check. Sessions, passwords and API tokens come in later migrations.

ALTER TABLE users ADD COLUMN email TEXT;
-- One account per address, compared without case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL;

-- Seed 000 lists the kiosk's permissions and three admin ones; the admin routes need these too.
INSERT INTO permissions (name, resource_type, action) VALUES
  ('See events, devices, reports and draws', 'report', 'view'),
  ('Verify and record prize claims', 'claim', 'verify'),
  ('Resolve exceptions with a note', 'exception', 'resolve'),
  ('Register and manage RSUs, keys and allocations', 'rsu', 'manage'),
  ('Manage admin users and API tokens', 'user', 'manage'),
  ('Create organizations and change system settings', 'organization', 'manage');

-- system_admin and organization_admin hold every permission (seed 000 grants them all rows at
-- the time; give them the new ones), raffle_manager runs events, viewer only looks.
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON
     (r.key = 'system_admin' AND (p.resource_type, p.action) IN
        (('report','view'), ('claim','verify'), ('exception','resolve'), ('rsu','manage'),
         ('user','manage'), ('organization','manage')))
  OR (r.key = 'organization_admin' AND (p.resource_type, p.action) IN
        (('report','view'), ('claim','verify'), ('exception','resolve'), ('rsu','manage'),
         ('user','manage')))
  OR (r.key = 'raffle_manager' AND (p.resource_type, p.action) IN
        (('report','view'), ('claim','verify'), ('exception','resolve'), ('rsu','manage')))
  OR (r.key = 'viewer' AND (p.resource_type, p.action) IN (('report','view')))
ON CONFLICT DO NOTHING;
