//! `rsu-syncd status`: what an operator or a script needs to know about the device's sync.

use chrono::{DateTime, Utc};
use rsu_store::{Store, TopUpCandidate};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{lock, SyncError};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonStatus {
    pub db: PathBuf,
    pub rsu_no: u32,
    pub epoch: i64,
    pub server_url: Option<String>,
    pub daemon_running: bool,
    pub pending_entries: u64,
    pub pending_sales: u64,
    pub unsynced_tickets: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub oldest_pending_age_secs: Option<i64>,
    pub rejected: u64,
    pub conflicts: u64,
    pub last_seq: u64,
    pub server_acked_through_seq: Option<u64>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub clock_offset_ms: i64,
    pub config_version: i64,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub numbers_left: i64,
    pub low_water_mark: i64,
    pub events: Vec<TopUpCandidate>,
}

impl DaemonStatus {
    pub fn fully_synced(&self) -> bool {
        self.pending_entries == 0
    }
}

/// Reads the status of the device database at `db`.
pub fn status(db: &Path) -> Result<DaemonStatus, SyncError> {
    let store = Store::open_existing(db)?;
    let ident = store.sync_identity()?;
    let counts = store.sync_counts()?;
    let st = store.sync_state()?;
    let events = store.top_up_candidates()?;
    let now = Utc::now() + chrono::Duration::milliseconds(ident.clock_offset_ms);
    Ok(DaemonStatus {
        db: db.to_path_buf(),
        rsu_no: ident.rsu_no,
        epoch: ident.epoch,
        server_url: ident.server_url,
        daemon_running: lock::DaemonLock::is_held(db),
        pending_entries: counts.pending_entries,
        pending_sales: counts.pending_sales,
        unsynced_tickets: counts.unsynced_tickets,
        oldest_pending_at: counts.oldest_pending_at,
        oldest_pending_age_secs: counts
            .oldest_pending_at
            .map(|t| (now - t).num_seconds().max(0)),
        rejected: counts.rejected,
        conflicts: counts.conflicts,
        last_seq: counts.last_seq,
        server_acked_through_seq: st.server_acked_through_seq,
        last_success_at: st.last_success_at,
        last_error_at: st.last_error_at,
        last_error_code: st.last_error_code,
        last_error: st.last_error,
        consecutive_failures: st.consecutive_failures,
        clock_offset_ms: ident.clock_offset_ms,
        config_version: ident.config_version,
        last_pull_at: st.last_pull_at,
        last_heartbeat_at: st.last_heartbeat_at,
        numbers_left: events.iter().map(|e| e.numbers_left).sum(),
        low_water_mark: store.low_water_mark()?,
        events,
    })
}

fn when(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

impl fmt::Display for DaemonStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "RSU {} epoch {}  {}  daemon {}",
            self.rsu_no,
            self.epoch,
            self.server_url.as_deref().unwrap_or("(no server)"),
            if self.daemon_running {
                "running"
            } else {
                "not running"
            }
        )?;
        let age = self
            .oldest_pending_age_secs
            .map(|s| format!(", oldest {s} s old"))
            .unwrap_or_default();
        writeln!(
            f,
            "pending        {} entries ({} sales, {} tickets){age}",
            self.pending_entries, self.pending_sales, self.unsynced_tickets
        )?;
        writeln!(
            f,
            "journal        last seq {}, server holds through {}",
            self.last_seq,
            self.server_acked_through_seq
                .map(|s| s.to_string())
                .unwrap_or_else(|| "?".into())
        )?;
        writeln!(
            f,
            "rejected       {}   conflicts {}",
            self.rejected, self.conflicts
        )?;
        writeln!(f, "last success   {}", when(&self.last_success_at))?;
        match (&self.last_error_code, &self.last_error) {
            (Some(code), Some(msg)) => writeln!(
                f,
                "last error     {} [{code}] {msg} ({} failed rounds in a row)",
                when(&self.last_error_at),
                self.consecutive_failures
            )?,
            _ => writeln!(f, "last error     none")?,
        }
        writeln!(f, "clock offset   {:+} ms", self.clock_offset_ms)?;
        writeln!(
            f,
            "config         version {}, pulled {}, heartbeat {}",
            self.config_version,
            when(&self.last_pull_at),
            when(&self.last_heartbeat_at)
        )?;
        writeln!(
            f,
            "numbers left   {} (top-up below {})",
            self.numbers_left, self.low_water_mark
        )
    }
}
