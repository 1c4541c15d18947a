//! Server settings: an optional TOML file, overridden by environment variables.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

/// The default database of a developer machine and CI (trust authentication on loopback).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Settings {
    /// `DATABASE_URL`.
    #[serde(default = "default_db")]
    pub database_url: String,
    /// `SERVER_STUB_BIND`, e.g. `127.0.0.1:8080`.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// `SERVER_STUB_ADMIN_TOKEN`: the bearer token of `/v1/admin/*`. Admin HTTP is off when unset.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// `SERVER_STUB_MAX_CONNECTIONS`.
    #[serde(default = "default_max_conn")]
    pub max_connections: u32,
}

fn default_db() -> String {
    DEFAULT_DATABASE_URL.into()
}
fn default_bind() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_conn() -> u32 {
    16
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: default_db(),
            bind: default_bind(),
            admin_token: None,
            max_connections: default_max_conn(),
        }
    }
}

impl Settings {
    /// Reads `file` (when given) and then the environment, which wins.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut s = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the settings file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("the settings file {} is not valid", p.display()))?
            }
            None => Settings::default(),
        };
        if let Ok(v) = std::env::var("DATABASE_URL") {
            s.database_url = v;
        }
        if let Ok(v) = std::env::var("SERVER_STUB_BIND") {
            s.bind = v;
        }
        if let Ok(v) = std::env::var("SERVER_STUB_ADMIN_TOKEN") {
            s.admin_token = Some(v);
        }
        if let Ok(v) = std::env::var("SERVER_STUB_MAX_CONNECTIONS") {
            s.max_connections = v
                .parse()
                .with_context(|| format!("SERVER_STUB_MAX_CONNECTIONS={v:?} is not a number"))?;
        }
        if let Some(t) = &s.admin_token {
            if t.len() < 16 {
                anyhow::bail!("the admin token must be at least 16 characters");
            }
        }
        Ok(s)
    }
}
