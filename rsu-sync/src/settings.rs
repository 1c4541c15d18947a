//! Daemon settings: defaults, then an optional TOML file, then the environment (`RSU_*`), then
//! command-line flags; each later source wins.
//!
//! ```toml
//! # /etc/rsu/syncd.toml
//! db = "/var/lib/rsu/rsu.sqlite3"
//! server = "https://raffle.example.org"   # overrides the URL stored at enrollment
//! batch_size = 500
//! request_timeout_secs = 30
//! connect_timeout_secs = 5
//! poll_interval_ms = 2000
//! pull_interval_secs = 300
//! heartbeat_interval_secs = 60
//! backoff_base_ms = 1000
//! backoff_cap_ms = 60000
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::SyncError;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, default)]
pub struct Settings {
    /// The device database (`RSU_DB`).
    pub db: Option<PathBuf>,
    /// The server's base URL (`RSU_SERVER`); default: the one stored at enrollment.
    pub server: Option<String>,
    /// Entries per push, 1 to 1000 (`RSU_BATCH_SIZE`).
    pub batch_size: usize,
    /// Whole-request timeout (`RSU_REQUEST_TIMEOUT_SECS`); a stalled server counts as a failure after it.
    pub request_timeout_secs: f64,
    /// TCP connect timeout (`RSU_CONNECT_TIMEOUT_SECS`).
    pub connect_timeout_secs: f64,
    /// How often an idle daemon looks for new sales (`RSU_POLL_INTERVAL_MS`).
    pub poll_interval_ms: u64,
    /// How often configuration is pulled even if the heartbeat says nothing changed (`RSU_PULL_INTERVAL_SECS`).
    pub pull_interval_secs: u64,
    /// How often a heartbeat is sent (`RSU_HEARTBEAT_INTERVAL_SECS`).
    pub heartbeat_interval_secs: u64,
    /// Backoff after the first failure (`RSU_BACKOFF_BASE_MS`); doubles per failure.
    pub backoff_base_ms: u64,
    /// Backoff ceiling (`RSU_BACKOFF_CAP_MS`).
    pub backoff_cap_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            db: None,
            server: None,
            batch_size: 500,
            request_timeout_secs: 30.0,
            connect_timeout_secs: 5.0,
            poll_interval_ms: 2000,
            pull_interval_secs: 300,
            heartbeat_interval_secs: 60,
            backoff_base_ms: 1000,
            backoff_cap_ms: 60_000,
        }
    }
}

fn env_parse<T: std::str::FromStr>(name: &str, slot: &mut T) -> Result<(), SyncError> {
    if let Ok(v) = std::env::var(name) {
        *slot = v
            .trim()
            .parse()
            .map_err(|_| SyncError::Config(format!("{name}={v:?} is not a valid value")))?;
    }
    Ok(())
}

impl Settings {
    /// Defaults, then `file` (if given), then the `RSU_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SyncError> {
        let mut s = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    SyncError::Config(format!(
                        "cannot read the settings file {}: {e}",
                        p.display()
                    ))
                })?;
                toml::from_str(&text).map_err(|e| {
                    SyncError::Config(format!(
                        "the settings file {} is not valid: {e}",
                        p.display()
                    ))
                })?
            }
            None => Settings::default(),
        };
        if let Ok(v) = std::env::var("RSU_DB") {
            s.db = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("RSU_SERVER") {
            s.server = Some(v);
        }
        env_parse("RSU_BATCH_SIZE", &mut s.batch_size)?;
        env_parse("RSU_REQUEST_TIMEOUT_SECS", &mut s.request_timeout_secs)?;
        env_parse("RSU_CONNECT_TIMEOUT_SECS", &mut s.connect_timeout_secs)?;
        env_parse("RSU_POLL_INTERVAL_MS", &mut s.poll_interval_ms)?;
        env_parse("RSU_PULL_INTERVAL_SECS", &mut s.pull_interval_secs)?;
        env_parse(
            "RSU_HEARTBEAT_INTERVAL_SECS",
            &mut s.heartbeat_interval_secs,
        )?;
        env_parse("RSU_BACKOFF_BASE_MS", &mut s.backoff_base_ms)?;
        env_parse("RSU_BACKOFF_CAP_MS", &mut s.backoff_cap_ms)?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), SyncError> {
        if !(1..=rsu_core::wire::MAX_BATCH_ENTRIES).contains(&self.batch_size) {
            return Err(SyncError::Config(format!(
                "batch_size must be 1 to {}, not {}",
                rsu_core::wire::MAX_BATCH_ENTRIES,
                self.batch_size
            )));
        }
        for (name, v) in [
            ("request_timeout_secs", self.request_timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
                return Err(SyncError::Config(format!(
                    "{name} must be more than 0 and at most 3600 seconds, not {v}"
                )));
            }
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_secs)
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: Duration::from_millis(self.backoff_base_ms.max(1)),
            cap: Duration::from_millis(self.backoff_cap_ms.max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_overrides_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("syncd.toml");
        std::fs::write(&p, "db = \"/x/rsu.sqlite3\"\nbatch_size = 200\n").unwrap();
        let s = Settings::load(Some(&p)).unwrap();
        assert_eq!(s.batch_size, 200);
        assert_eq!(s.db.as_deref(), Some(Path::new("/x/rsu.sqlite3")));
        assert_eq!(s.heartbeat_interval_secs, 60);
        std::fs::write(&p, "batchsize = 200\n").unwrap();
        let e = Settings::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("not valid"), "{e}");
        std::fs::write(&p, "batch_size = 5000\n").unwrap();
        let e = Settings::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("batch_size must be 1 to 1000"), "{e}");
    }
}
