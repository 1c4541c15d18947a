//! Admin accounts against a real PostgreSQL (issue 13, docs/server.md "Accounts and roles"):
//! password sign-in and its lockout, dashboard sessions and their cookie, CSRF on sign-out,
//! per-user API tokens beside the deprecated shared token, the role matrix on representative
//! routes, and `audit_log.changed_by`. One test binary of topic modules.

mod cli;
mod helpers;
mod roles;
mod sessions;
mod sign_in;
mod tokens;
