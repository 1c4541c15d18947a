//! A database URL with several hosts, and following the primary when it moves (issue 16;
//! docs/scaling.md "Failover").
//!
//! `postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write` is libpq's multi-host
//! form; sqlx connects to one host only, so the server does the rest itself:
//!
//! - at start it uses the first host that answers and is not in recovery (the primary);
//! - every new connection checks `pg_is_in_recovery()` and is refused on a standby, so the pool
//!   never writes to a read-only server;
//! - a watcher probes the pool twice a second; when the current host fails or has become a
//!   standby, it finds the host that is now the primary and points the pool at it
//!   (`Pool::set_connect_options`). Connections to the dead host fail and are dropped; requests
//!   meanwhile wait for a connection up to the pool's acquire timeout and are then refused with
//!   503 `database_unavailable`, which devices retry. No restart is needed.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// A parsed database URL: one URL per host, and whether only a writable server will do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    /// Single-host URLs, in the order given.
    pub urls: Vec<String>,
    pub read_write: bool,
}

impl Hosts {
    /// Splits `scheme://[userinfo@]h1[:p1],h2[:p2]/rest` into one URL per host and removes the
    /// `target_session_attrs` parameter (sqlx does not know it; this module implements it).
    pub fn parse(url: &str) -> anyhow::Result<Hosts> {
        let (scheme, rest) = url
            .split_once("://")
            .context("DATABASE_URL must start with postgres://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostlist) = match authority.rfind('@') {
            Some(i) => (&authority[..=i], &authority[i + 1..]),
            None => ("", authority),
        };
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path, ""),
        };
        let mut read_write = false;
        let params: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| match p.split_once('=') {
                Some(("target_session_attrs", v)) => {
                    read_write = v == "read-write" || v == "primary";
                    false
                }
                _ => true,
            })
            .collect();
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        let urls: Vec<String> = hostlist
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("{scheme}://{userinfo}{h}{path}{query}"))
            .collect();
        anyhow::ensure!(!urls.is_empty(), "DATABASE_URL names no host");
        Ok(Hosts { urls, read_write })
    }

    /// More than one host, or a writable server required: the watcher is needed.
    pub fn needs_failover(&self) -> bool {
        self.urls.len() > 1 || self.read_write
    }
}

fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .with_context(|| "DATABASE_URL is not a valid PostgreSQL URL".to_string())
}

/// Is the server at `url` up and, when `read_write`, not a standby?
async fn usable(url: &str, read_write: bool) -> bool {
    let Ok(opts) = options(url) else {
        return false;
    };
    let probe = async {
        let mut c = PgConnection::connect_with(&opts).await?;
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut c)
            .await?;
        let _ = c.close().await;
        Ok::<bool, sqlx::Error>(!read_write || !standby)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), probe).await,
        Ok(Ok(true))
    )
}

/// The first usable host, if any.
pub async fn find_primary(hosts: &Hosts) -> Option<String> {
    for u in &hosts.urls {
        if usable(u, hosts.read_write).await {
            return Some(u.clone());
        }
    }
    None
}

/// A pool on the current primary of `url`'s hosts, followed by a watcher (see the module).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let hosts = Hosts::parse(url)?;
    let current = find_primary(&hosts).await.with_context(|| {
        format!(
            "no {}server among the {} host(s) of DATABASE_URL answers",
            if hosts.read_write { "writable " } else { "" },
            hosts.urls.len()
        )
    })?;
    let read_write = hosts.read_write;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if read_write {
                    let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                        .fetch_one(&mut *conn)
                        .await?;
                    if standby {
                        return Err(sqlx::Error::Protocol(
                            "this database server is a standby (read-only); waiting for the primary"
                                .into(),
                        ));
                    }
                }
                Ok(())
            })
        })
        .connect_with(options(&current)?)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                crate::db::redact(&current)
            )
        })?;
    tracing::info!(host = %crate::db::redact(&current), hosts = hosts.urls.len(), "database primary");
    tokio::spawn(watch(pool.clone(), hosts, current));
    Ok(pool)
}

/// Follows the primary until the pool is closed.
async fn watch(pool: PgPool, hosts: Hosts, mut current: String) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if usable(&current, hosts.read_write).await {
            continue;
        }
        let Some(next) = find_primary(&hosts).await else {
            tracing::warn!(host = %crate::db::redact(&current), "database primary unreachable; no other host is writable yet");
            continue;
        };
        if next != current {
            match options(&next) {
                Ok(o) => {
                    tracing::warn!(from = %crate::db::redact(&current), to = %crate::db::redact(&next), "database failover: following the new primary");
                    pool.set_connect_options(o);
                    current = next;
                }
                Err(e) => tracing::error!("database failover: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_host_url_becomes_one_url_per_host() {
        let h = Hosts::parse(
            "postgres://app:pw@10.0.0.1:5432,10.0.0.2:5433/raffle?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            h.urls,
            vec![
                "postgres://app:pw@10.0.0.1:5432/raffle?sslmode=disable",
                "postgres://app:pw@10.0.0.2:5433/raffle?sslmode=disable"
            ]
        );
        assert!(h.read_write && h.needs_failover());
        let one = Hosts::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert_eq!(
            one.urls,
            vec!["postgres://postgres@127.0.0.1:5432/postgres"]
        );
        assert!(!one.read_write && !one.needs_failover());
        assert!(Hosts::parse("127.0.0.1:5432").is_err());
    }
}
