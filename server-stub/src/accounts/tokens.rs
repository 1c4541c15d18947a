//! Per-user API tokens (`Authorization: Bearer rsu_pat_…`) and the deprecated shared admin token
//! (docs/server.md "Accounts and roles").
//!
//! A user token is `rsu_pat_` and 64 hex digits (256 random bits), printed once by
//! `admin create-token`; the server keeps only its SHA-256. It acts with the roles of its user and
//! stops working when it is revoked or its user is deactivated. The shared
//! `SERVER_STUB_ADMIN_TOKEN` still works for a deprecation period: every use is logged with a
//! warning and counted ([`shared_token_uses`]).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{load_principal, Principal, Via};
use crate::crypto::{random_bytes, sha256};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

/// What every user API token starts with (so a leaked one is recognisable, e.g. by a scanner).
pub const PREFIX: &str = "rsu_pat_";

static SHARED_TOKEN_USES: AtomicU64 = AtomicU64::new(0);

/// How many admin requests this process accepted with the deprecated shared token.
pub fn shared_token_uses() -> u64 {
    SHARED_TOKEN_USES.load(Ordering::Relaxed)
}

/// A token just created: shown to its owner once.
#[derive(Debug)]
pub struct NewToken {
    pub id: Uuid,
    pub token: String,
}

/// Creates an API token named `name` for the user with `email`.
pub async fn create(pool: &PgPool, email: &str, name: &str) -> AppResult<NewToken> {
    if name.trim().is_empty() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "field name: say what the token is for, e.g. \"nightly report export\"",
        ));
    }
    let user: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT id, is_active FROM users WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .fetch_optional(pool)
            .await?;
    let user = match user {
        Some((id, true)) => id,
        Some((_, false)) => {
            return Err(AppError::of(
                ErrorCode::InvalidField,
                format!(
                    "field email: {:?} is deactivated; `admin set-user-active --active true` first",
                    email.trim()
                ),
            ))
        }
        None => return Err(super::password::unknown_user(email)),
    };
    let token = format!("{PREFIX}{}", hex::encode(random_bytes::<32>()?));
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO admin_api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(user)
    .bind(name.trim())
    .bind(sha256(token.as_bytes()))
    .fetch_one(pool)
    .await?;
    crate::admin::audit(
        pool,
        "admin_api_tokens",
        "INSERT",
        id,
        None,
        json!({"userId": user, "name": name.trim()}),
    )
    .await?;
    Ok(NewToken { id, token })
}

/// Every token (never the secret): id, user, name, created, last used, revoked.
pub async fn list(pool: &PgPool, email: Option<&str>) -> AppResult<Value> {
    type Row = (
        Uuid,
        Option<String>,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.id, u.email, t.name, t.created_at, t.last_used_at, t.revoked_at
           FROM admin_api_tokens t JOIN users u ON u.id = t.user_id
          WHERE $1::text IS NULL OR lower(u.email) = lower($1)
          ORDER BY t.created_at",
    )
    .bind(email.map(str::trim))
    .fetch_all(pool)
    .await?;
    let tokens: Vec<Value> = rows
        .into_iter()
        .map(|(id, email, name, created, used, revoked)| {
            json!({"tokenId": id, "email": email, "name": name, "createdAt": created,
                   "lastUsedAt": used, "revokedAt": revoked})
        })
        .collect();
    Ok(json!({ "tokens": tokens }))
}

/// Revokes a token by id; revoking a revoked token is not an error (it stays revoked).
pub async fn revoke(pool: &PgPool, id: Uuid) -> AppResult<Value> {
    let row: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "UPDATE admin_api_tokens SET revoked_at = COALESCE(revoked_at, NOW()) WHERE id = $1
         RETURNING name, revoked_at",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((name, at)) = row else {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!("field id: no API token {id}; `admin list-tokens` shows them"),
        ));
    };
    crate::admin::audit(
        pool,
        "admin_api_tokens",
        "UPDATE",
        id,
        Some(json!({"revokedAt": null})),
        json!({"revokedAt": at}),
    )
    .await?;
    Ok(json!({"tokenId": id, "name": name, "revokedAt": at}))
}

/// The principal of a user API token, touching its `last_used_at`; `None` when the token is
/// unknown, revoked or its user inactive.
pub async fn resolve(pool: &PgPool, token: &str) -> AppResult<Option<Principal>> {
    let user: Option<Uuid> = sqlx::query_scalar(
        "UPDATE admin_api_tokens SET last_used_at = NOW()
          WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id",
    )
    .bind(sha256(token.as_bytes()))
    .fetch_optional(pool)
    .await?;
    match user {
        Some(u) => load_principal(pool, u, Via::ApiToken).await,
        None => Ok(None),
    }
}

/// The principal behind an admin request's `Authorization: Bearer …`: a user API token, or the
/// deprecated shared token (logged and counted on every use).
pub async fn bearer_principal(st: &AppState, headers: &HeaderMap) -> AppResult<Principal> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            AppError::of(
                ErrorCode::MissingAdminToken,
                "header Authorization: Bearer <API token> is missing (`server-stub admin create-token` makes one)",
            )
        })?;
    if given.starts_with(PREFIX) {
        return resolve(&st.pool, given).await?.ok_or_else(|| {
            AppError::of(
                ErrorCode::BadAdminToken,
                "header Authorization: the API token is unknown, revoked, or its user is deactivated",
            )
        });
    }
    let shared_ok = st
        .admin_tag
        .as_ref()
        .is_some_and(|tag| ring::hmac::verify(&st.admin_key, given.as_bytes(), tag).is_ok());
    if !shared_ok {
        return Err(if st.admin_tag.is_none() {
            AppError::of(
                ErrorCode::BadAdminToken,
                "header Authorization: not an API token (rsu_pat_…), and this server has no shared admin token",
            )
        } else {
            AppError::of(
                ErrorCode::BadAdminToken,
                "header Authorization: the admin token is wrong",
            )
        });
    }
    let n = SHARED_TOKEN_USES.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::warn!(
        uses = n,
        "admin request with the deprecated shared SERVER_STUB_ADMIN_TOKEN: give each person or \
         script its own API token (`server-stub admin create-token`); the shared token will go"
    );
    Ok(Principal::shared_token())
}
