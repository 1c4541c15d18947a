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

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying the server migrations failed")
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
