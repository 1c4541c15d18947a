//! Who is asking an admin question, and what they may do (issue 13; docs/server.md "Accounts and
//! roles").
//!
//! A [`Principal`] is resolved from one of three credentials: a dashboard session cookie
//! (`accounts::session`), a per-user API token (`accounts::tokens`), or the deprecated shared admin
//! token. Every admin route asks it [`Principal::require`] for one [`Permission`] in the
//! organization the request touches, and writes `audit_log.changed_by` = [`Principal::user_id`].
//!
//! The permission matrix is data (seed 000 `roles`, `permissions`, `role_permissions`, extended
//! by migration 0008); this module reads it, it does not restate it.

pub mod actor;
pub mod cli;
pub mod password;
pub mod scope;
pub mod session;
pub mod tokens;
pub mod web;

pub use actor::{acting_as, as_principal, changed_by};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// One admin permission: a `(resource_type, action)` row of `permissions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See events, devices, reports, draws and claims (every admin role).
    View,
    /// Create and change events, packages, prizes, venues, operators; move event states.
    EventManage,
    /// Run the reconciliation gate, exclude RSUs, confirm close-out.
    EventReconcile,
    /// Run the draw and redraws.
    DrawRun,
    /// Verify receipts and record prize claims.
    ClaimVerify,
    /// Resolve exceptions (rejections, conflicts, chain breaks) with a note.
    ExceptionResolve,
    /// Register RSUs, issue enrollment tokens, revoke keys, allocate ranges.
    RsuManage,
    /// Create admin users and API tokens.
    UserManage,
    /// Create organizations and change system settings.
    OrganizationManage,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::View,
        Permission::EventManage,
        Permission::EventReconcile,
        Permission::DrawRun,
        Permission::ClaimVerify,
        Permission::ExceptionResolve,
        Permission::RsuManage,
        Permission::UserManage,
        Permission::OrganizationManage,
    ];

    /// The `(resource_type, action)` of its `permissions` row.
    pub fn key(self) -> (&'static str, &'static str) {
        match self {
            Permission::View => ("report", "view"),
            Permission::EventManage => ("event", "manage"),
            Permission::EventReconcile => ("event", "reconcile"),
            Permission::DrawRun => ("draw", "run"),
            Permission::ClaimVerify => ("claim", "verify"),
            Permission::ExceptionResolve => ("exception", "resolve"),
            Permission::RsuManage => ("rsu", "manage"),
            Permission::UserManage => ("user", "manage"),
            Permission::OrganizationManage => ("organization", "manage"),
        }
    }

    pub fn from_key(resource_type: &str, action: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.key() == (resource_type, action))
    }

    /// `event.manage`, as in error messages and docs.
    pub fn label(self) -> String {
        let (r, a) = self.key();
        format!("{r}.{a}")
    }
}

/// The credential a principal came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A dashboard session cookie.
    Session,
    /// A per-user API token.
    ApiToken,
    /// The shared `SERVER_STUB_ADMIN_TOKEN` (deprecated; logged on every use).
    SharedToken,
}

/// What a principal may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    /// Everything in every organization: a `system_admin`, or the shared token.
    All,
    /// Per organization, the permissions of the user's role there.
    Orgs(BTreeMap<Uuid, BTreeSet<Permission>>),
}

/// The person (or the shared token) behind an admin request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// `users.id`; `None` for the shared token. Goes into `audit_log.changed_by`.
    pub user_id: Option<Uuid>,
    /// The user's display name, or "shared admin token".
    pub display_name: String,
    pub via: Via,
    pub grants: Grants,
}

impl Principal {
    /// The deprecated shared token: every permission, no person.
    pub fn shared_token() -> Principal {
        Principal {
            user_id: None,
            display_name: "shared admin token".into(),
            via: Via::SharedToken,
            grants: Grants::All,
        }
    }

    /// May this principal do `p` in organization `org`?
    pub fn can(&self, p: Permission, org: Uuid) -> bool {
        match &self.grants {
            Grants::All => true,
            Grants::Orgs(m) => m.get(&org).is_some_and(|s| s.contains(&p)),
        }
    }

    /// May this principal do `p` in at least one organization (for pages and lists that are
    /// then filtered by [`Principal::sees`])?
    pub fn can_somewhere(&self, p: Permission) -> bool {
        match &self.grants {
            Grants::All => true,
            Grants::Orgs(m) => m.values().any(|s| s.contains(&p)),
        }
    }

    /// Does this principal see organization `org` at all?
    pub fn sees(&self, org: Uuid) -> bool {
        match &self.grants {
            Grants::All => true,
            Grants::Orgs(m) => m.contains_key(&org),
        }
    }

    /// The organizations this principal sees; `None` means every one.
    pub fn organizations(&self) -> Option<Vec<Uuid>> {
        match &self.grants {
            Grants::All => None,
            Grants::Orgs(m) => Some(m.keys().copied().collect()),
        }
    }

    /// The organizations where this principal may do `p`; `None` means every one. For list
    /// queries: `WHERE $1::uuid[] IS NULL OR organization_id = ANY($1)`.
    pub fn organizations_with(&self, p: Permission) -> Option<Vec<Uuid>> {
        match &self.grants {
            Grants::All => None,
            Grants::Orgs(m) => Some(
                m.iter()
                    .filter(|(_, s)| s.contains(&p))
                    .map(|(o, _)| *o)
                    .collect(),
            ),
        }
    }

    /// Refuses with 403 `permission_denied` unless the principal may do `p` in `org`. An
    /// organization the principal does not see is refused the same way, so ids of other
    /// organizations cannot be probed.
    pub fn require(&self, p: Permission, org: Uuid) -> AppResult<()> {
        if self.can(p, org) {
            return Ok(());
        }
        Err(AppError::of(
            ErrorCode::PermissionDenied,
            format!(
                "{} may not do this: it needs permission {} in the organization",
                self.display_name,
                p.label()
            ),
        ))
    }

    /// As [`Principal::require`], for actions that belong to no single organization.
    pub fn require_somewhere(&self, p: Permission) -> AppResult<()> {
        if self.can_somewhere(p) {
            return Ok(());
        }
        Err(AppError::of(
            ErrorCode::PermissionDenied,
            format!(
                "{} may not do this: it needs permission {}",
                self.display_name,
                p.label()
            ),
        ))
    }
}

/// Loads an active user's principal from `organization_users`, `roles` and `role_permissions`.
/// A user with the `system_admin` role in any organization gets [`Grants::All`]. An unknown or
/// inactive user is `None`.
pub async fn load_principal(
    pool: &PgPool,
    user_id: Uuid,
    via: Via,
) -> AppResult<Option<Principal>> {
    let user: Option<(String, bool)> =
        sqlx::query_as("SELECT display_name, is_active FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    let Some((display_name, true)) = user else {
        return Ok(None);
    };
    let rows: Vec<(Uuid, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT ou.organization_id, r.key, p.resource_type, p.action
           FROM organization_users ou
           JOIN roles r ON r.id = ou.role_id
           LEFT JOIN role_permissions rp ON rp.role_id = r.id
           LEFT JOIN permissions p ON p.id = rp.permission_id
          WHERE ou.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let grants = if rows.iter().any(|(_, role, _, _)| role == "system_admin") {
        Grants::All
    } else {
        let mut m: BTreeMap<Uuid, BTreeSet<Permission>> = BTreeMap::new();
        for (org, _, rt, action) in rows {
            let set = m.entry(org).or_default();
            if let (Some(rt), Some(action)) = (rt, action) {
                if let Some(p) = Permission::from_key(&rt, &action) {
                    set.insert(p);
                }
            }
        }
        Grants::Orgs(m)
    };
    Ok(Some(Principal {
        user_id: Some(user_id),
        display_name,
        via,
        grants,
    }))
}

/// Adds an admin user (no password yet: `accounts::password` sets it). The email is unique
/// without regard to case.
pub async fn add_user(pool: &PgPool, email: &str, display_name: &str) -> AppResult<Uuid> {
    let id: Uuid =
        sqlx::query_scalar("INSERT INTO users (email, display_name) VALUES ($1, $2) RETURNING id")
            .bind(email.trim())
            .bind(display_name.trim())
            .fetch_one(pool)
            .await?;
    Ok(id)
}

/// Gives `user_id` the role `role_key` (a `roles.key`: `system_admin`, `organization_admin`,
/// `raffle_manager`, `viewer`, …) in organization `org`, replacing the role held there before.
pub async fn grant(pool: &PgPool, user_id: Uuid, org: Uuid, role_key: &str) -> AppResult<()> {
    let done = sqlx::query(
        "INSERT INTO organization_users (organization_id, user_id, role_id)
         SELECT $1, $2, id FROM roles WHERE key = $3
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role_id = EXCLUDED.role_id",
    )
    .bind(org)
    .bind(user_id)
    .bind(role_key)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!(
                "role {role_key:?} does not exist: use system_admin, organization_admin, \
                 raffle_manager or viewer"
            ),
        ));
    }
    Ok(())
}

/// The roles an admin user can hold (`seller` and `supervisor` are kiosk operator roles, given by
/// `admin create-operator`).
pub const ADMIN_ROLES: [&str; 4] = [
    "system_admin",
    "organization_admin",
    "raffle_manager",
    "viewer",
];

/// A new admin user: `admin create-user`.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub organization_id: Uuid,
    pub password: &'a str,
}

/// Adds an admin user with a role in one organization and a password, in one transaction (all
/// or nothing); recorded in `audit_log` (never the password).
pub async fn create_user(pool: &PgPool, u: &NewUser<'_>) -> AppResult<Value> {
    let email = u.email.trim();
    if !email.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!("field email: {email:?} is not an email address"),
        ));
    }
    if u.display_name.trim().is_empty() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "field name: must not be empty (the name shown in the dashboard and the audit log)",
        ));
    }
    if !ADMIN_ROLES.contains(&u.role) {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!(
                "field role: {:?} is not an admin role; use one of {} (seller and supervisor are \
                 kiosk roles: `admin create-operator`)",
                u.role,
                ADMIN_ROLES.join(", ")
            ),
        ));
    }
    crate::admin::org_exists(pool, u.organization_id).await?;
    password::check_new(u.password)?;
    let owned = u.password.to_string();
    let phc = tokio::task::spawn_blocking(move || password::hash(&owned))
        .await
        .map_err(|e| AppError::internal("password hash", e))??;
    let taken: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(pool)
            .await?;
    if taken.is_some() {
        return Err(AppError::of(
            ErrorCode::AlreadyExists,
            format!("field email: {email} already has an account; `admin set-password` changes its password"),
        ));
    }
    let mut tx = pool.begin().await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (email, display_name, password_hash) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(email)
    .bind(u.display_name.trim())
    .bind(&phc)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO organization_users (organization_id, user_id, role_id)
         SELECT $1, $2, id FROM roles WHERE key = $3",
    )
    .bind(u.organization_id)
    .bind(id)
    .bind(u.role)
    .execute(&mut *tx)
    .await?;
    let out = json!({"userId": id, "email": email, "name": u.display_name.trim(),
                     "role": u.role, "organizationId": u.organization_id});
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('users', 'INSERT', $1, $2, $3)",
    )
    .bind(id)
    .bind(&out)
    .bind(changed_by())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Activates or deactivates a user. Deactivating ends the user's sessions and revokes the
/// user's API tokens (they stay revoked when the user is activated again).
pub async fn set_active(pool: &PgPool, email: &str, active: bool) -> AppResult<Value> {
    let mut tx = pool.begin().await?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE users SET is_active = $2 WHERE lower(email) = lower($1) RETURNING id",
    )
    .bind(email.trim())
    .bind(active)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| password::unknown_user(email))?;
    let (mut sessions, mut tokens) = (0, 0);
    if !active {
        sessions = sqlx::query(
            "UPDATE admin_sessions SET revoked_at = NOW() WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tokens = sqlx::query(
            "UPDATE admin_api_tokens SET revoked_at = NOW() WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    let out = json!({"userId": id, "email": email.trim(), "active": active,
                     "sessionsEnded": sessions, "tokensRevoked": tokens});
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data, changed_by)
         VALUES ('users', 'UPDATE', $1, $2, $3, $4)",
    )
    .bind(id)
    .bind(json!({"active": !active}))
    .bind(&out)
    .bind(changed_by())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// The id of the active user with this email: the CLI's `--as EMAIL`.
pub async fn active_user_by_email(pool: &PgPool, email: &str) -> AppResult<(Uuid, String)> {
    let row: Option<(Uuid, String, bool)> = sqlx::query_as(
        "SELECT id, display_name, is_active FROM users WHERE lower(email) = lower($1)",
    )
    .bind(email.trim())
    .fetch_optional(pool)
    .await?;
    match row {
        Some((id, name, true)) => Ok((id, name)),
        Some((_, _, false)) => Err(AppError::of(
            ErrorCode::InvalidField,
            format!("--as {}: this user is deactivated", email.trim()),
        )),
        None => Err(password::unknown_user(email)),
    }
}
