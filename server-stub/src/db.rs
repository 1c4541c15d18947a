//! Connecting and migrating.

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The server's migrations, embedded at build time from `migrations/server`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/server");

/// A pool on `url`. A URL with several hosts or `target_session_attrs=read-write` follows the
/// primary when it moves (`failover.rs`).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    if crate::failover::Hosts::parse(url)?.needs_failover() {
        return crate::failover::connect(url, max_connections).await;
    }
    let opts = PgConnectOptions::from_str(url)
        .with_context(|| "DATABASE_URL is not a valid PostgreSQL URL".to_string())?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))
}

/// What to do when DATABASE_URL leads through a pooler that cannot keep prepared statements.
pub const POOLER_HINT: &str = "DATABASE_URL leads through a connection pooler in transaction mode that does not keep prepared statements (PgBouncer before 1.21): the server's statements collide (\"prepared statement sqlx_s_1 already exists\"). Point the server at PostgreSQL directly, use pool_mode = session for its database, or PgBouncer 1.21 or later with max_prepared_statements > 0 (docs/scaling.md \"PgBouncer\")";

/// PostgreSQL's codes for a prepared statement that already exists (42P05) or does not (26000):
/// through a transaction-mode pooler, another client's statement or a lost one of ours.
fn is_pooler_collision(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "42P05" || c == "26000")
}

/// Fails with [`POOLER_HINT`] when two connections of `pool` share one server session, as
/// through PgBouncer in transaction mode: each connection prepares its first statement under
/// the same name, so the second finds the first one's statement on the shared session. On
/// PostgreSQL itself (or a session-mode pooler) each connection is its own session and this
/// costs two trivial queries at start-up.
pub async fn check_not_transaction_pooled(pool: &PgPool) -> anyhow::Result<()> {
    let mut first = pool.acquire().await?;
    let mut second = pool.acquire().await?;
    let probe = async {
        sqlx::query_scalar::<_, i32>("SELECT 1::int4")
            .fetch_one(&mut *first)
            .await?;
        sqlx::query_scalar::<_, i32>("SELECT 2::int4")
            .fetch_one(&mut *second)
            .await
    };
    match probe.await {
        Ok(_) => Ok(()),
        Err(e) if is_pooler_collision(&e) => {
            // Both connections carry a statement the pooler's sessions no longer match.
            first.detach();
            second.detach();
            anyhow::bail!("{POOLER_HINT}")
        }
        Err(e) => Err(e).context("the database does not answer a trivial query"),
    }
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    check_not_transaction_pooled(pool).await?;
    MIGRATOR.run(pool).await.map_err(|e| {
        let pooled = matches!(&e, sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) if is_pooler_collision(inner));
        if pooled {
            anyhow::anyhow!("{POOLER_HINT}")
        } else {
            anyhow::Error::new(e).context("applying the server migrations failed")
        }
    })
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
