//! Enrollment (DESIGN §6): the device's first contact with the server, with a one-time token.
//!
//! Steps, each safe to crash after:
//! 1. refuse if a daemon is running on the database, or if journal entries are pending and the
//!    database no longer holds its key (DESIGN §3.10). A database that holds its key sends a
//!    continuity proof signed with it, keeps its ranges and pushes its pending entries under the
//!    new key (recovery of an expired key or of a lost enrollment answer; docs/sync.md);
//! 2. generate an Ed25519 key pair with `ring` and write the private key, mode 0600, next to the
//!    database (`<db>.enrolling.pk8`);
//! 3. `POST /v1/rsu/enroll` with the public key; the server answers identity, rsuNo, epoch,
//!    key id and validation key;
//! 4. move the key to `<db>.<key id>.pk8`, then store identity and epoch in one transaction;
//! 5. pull the first configuration and apply it (the daemon retries this if it fails here).

use chrono::{DateTime, Utc};
use rsu_core::wire::{self, DeviceKey, EnrollRequest, EnrollResponse};
use rsu_store::{DeviceIdentity, EnrollmentFacts, Store};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, Client};
use crate::{keyfile, lock, SyncError};

/// What enrollment did, printed by `rsu-syncd enroll` (and `rsu-app enroll`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollReport {
    pub db: PathBuf,
    pub server_url: String,
    pub rsu_id: uuid::Uuid,
    pub rsu_no: u32,
    pub epoch: i64,
    pub organization_name: String,
    pub key_id: uuid::Uuid,
    pub key_path: PathBuf,
    pub key_expires_at: DateTime<Utc>,
    pub clock_offset_ms: i64,
    /// The configuration version applied, or why it could not be pulled yet.
    pub config_version: Option<i64>,
    pub config_error: Option<String>,
    pub numbers_left: i64,
}

impl fmt::Display for EnrollReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Enrolled {} as RSU {} of {} (epoch {}).",
            self.db.display(),
            self.rsu_no,
            self.organization_name,
            self.epoch
        )?;
        writeln!(f, "  server      {}", self.server_url)?;
        writeln!(f, "  rsu id      {}", self.rsu_id)?;
        writeln!(
            f,
            "  device key  {} (Ed25519, key id {}, mode 0600, expires {})",
            self.key_path.display(),
            self.key_id,
            self.key_expires_at.format("%Y-%m-%d")
        )?;
        writeln!(
            f,
            "  clock       {:+} ms from the server",
            self.clock_offset_ms
        )?;
        match (&self.config_version, &self.config_error) {
            (Some(v), _) => writeln!(
                f,
                "  config      version {v} applied, {} draw numbers on hand",
                self.numbers_left
            ),
            (None, Some(e)) => writeln!(
                f,
                "  config      not pulled yet ({e}); rsu-syncd will pull it"
            ),
            (None, None) => writeln!(f, "  config      not pulled yet; rsu-syncd will pull it"),
        }
    }
}

/// A stable identifier of this machine: the first non-loopback MAC address, else the systemd
/// machine id, else the host name. `RSU_DEVICE_IDENTIFIER` overrides it.
pub fn device_identifier() -> String {
    if let Ok(v) = std::env::var("RSU_DEVICE_IDENTIFIER") {
        if !v.trim().is_empty() {
            return v.trim().to_string();
        }
    }
    if let Ok(rd) = std::fs::read_dir("/sys/class/net") {
        let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            if p.file_name().is_some_and(|n| n == "lo") {
                continue;
            }
            if let Ok(mac) = std::fs::read_to_string(p.join("address")) {
                let mac = mac.trim().to_ascii_uppercase();
                if !mac.is_empty() && mac != "00:00:00:00:00:00" {
                    return format!("MAC:{mac}");
                }
            }
        }
    }
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        if !id.trim().is_empty() {
            return format!("MACHINE-ID:{}", id.trim());
        }
    }
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "unknown".into());
    format!("HOST:{}", host.trim())
}

/// Enrolls the device database at `db_path` with the server at `server_url` using the one-time
/// enrollment `token`. Blocking: it runs its own small tokio runtime, so call it from plain
/// (non-async) code such as a CLI command. From async code use [`enroll_async`].
pub fn enroll(db_path: &Path, server_url: &str, token: &str) -> Result<EnrollReport, SyncError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Config(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(enroll_async(db_path, server_url, token))
}

/// [`enroll`] for callers already inside a tokio runtime.
pub async fn enroll_async(
    db_path: &Path,
    server_url: &str,
    token: &str,
) -> Result<EnrollReport, SyncError> {
    let base = client::parse_base(server_url)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(SyncError::Config(
            "the enrollment token is empty: pass the token the administrator gave you (--token)"
                .into(),
        ));
    }
    // A new device: its data directory (0700) must exist before the lock file inside it.
    rsu_store::create_data_dir(db_path)?;
    let _lock = lock::DaemonLock::acquire(db_path)
        .map_err(|e| SyncError::Config(format!("{e}. Enrollment needs the daemon stopped")))?;
    let mut store = Store::open(db_path)?;
    store.ensure_sync_state()?;
    let previous = store.sync_identity().ok();
    let previous_key = previous.as_ref().and_then(|i| i.key_id);
    // A database that still holds its key proves it is the same database (a key expired while
    // offline, an enrollment answer lost, re-enrollment): it keeps its ranges and its pending
    // entries. Without the key, nothing may be pending (checked before the token is spent).
    let old_key = match (&previous, previous_key) {
        (Some(p), Some(k)) => keyfile::load(db_path, k).ok().map(|key| (p.rsu_id, k, key)),
        _ => None,
    };
    if old_key.is_none() {
        store.ensure_nothing_pending("re-enrollment")?;
    }

    let key = DeviceKey::generate().map_err(|e| SyncError::Key(e.to_string()))?;
    let pending_path = keyfile::pending_key_path(db_path);
    keyfile::write_private(&pending_path, key.pkcs8())?;

    let timeout = Duration::from_secs(30);
    let http = client::http_client(&base, timeout, Duration::from_secs(10))?;
    let url = client::join(&base, wire::PATH_ENROLL)?;
    let body = serde_json::to_vec(&EnrollRequest {
        token: token.to_string(),
        public_key: key.public_key_hex(),
        device_identifier: device_identifier(),
        app_version: crate::APP_VERSION.into(),
        app_hash: crate::engine::app_hash(),
        continuity: old_key
            .as_ref()
            .map(|(rsu_id, key_id, old)| wire::Continuity {
                rsu_id: *rsu_id,
                key_id: *key_id,
                signature: old.sign_hex(&wire::continuity_message(
                    *rsu_id,
                    *key_id,
                    token,
                    &key.public_key_hex(),
                )),
            }),
    })
    .map_err(|e| SyncError::Config(e.to_string()))?;
    let sent = Utc::now();
    let res = http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| client::transport_error(&url, timeout, &e))?;
    let status = res.status().as_u16();
    let bytes = res
        .bytes()
        .await
        .map_err(|e| client::transport_error(&url, timeout, &e))?;
    let received = Utc::now();
    if !(200..300).contains(&status) {
        let _ = std::fs::remove_file(&pending_path);
        return Err(client::status_error(status, &bytes));
    }
    let resp: EnrollResponse = serde_json::from_slice(&bytes)
        .map_err(|e| SyncError::BadAnswer(format!("enrollment answer: {e}")))?;
    let offset_ms = (resp.server_time - (sent + (received - sent) / 2)).num_milliseconds();

    let key_path = keyfile::key_path(db_path, resp.key_id);
    keyfile::rename(&pending_path, &key_path)?;
    let server_url = base.as_str().trim_end_matches('/').to_string();
    let epoch = store.adopt_enrollment(
        &DeviceIdentity {
            rsu_id: resp.rsu_id,
            rsu_no: resp.rsu_no,
            name: format!("RSU-{:03}", resp.rsu_no),
            server_url: Some(server_url.clone()),
            key_id: Some(resp.key_id.to_string()),
            validation_key_hex: resp.validation_key.clone(),
        },
        resp.epoch,
        &EnrollmentFacts {
            last_sale_seq: resp.last_sale_seq,
            key_expires_at: Some(resp.key_expires_at),
            continued: resp.continued,
        },
    )?;
    store.record_server_contact(Some(offset_ms))?;
    store.set_key_path(&key_path.display().to_string())?;
    if let Some(old) = previous_key.filter(|k| *k != resp.key_id) {
        // Revoked by the server at re-enrollment; nothing can use it any more.
        let _ = std::fs::remove_file(keyfile::key_path(db_path, old));
    }

    // First configuration. A failure here is not a failed enrollment: the daemon pulls it.
    let mut client = Client::new(
        http,
        base,
        key,
        resp.rsu_id,
        resp.key_id,
        timeout,
        offset_ms,
    );
    let (config_version, config_error) = match pull_first_config(&mut client, &mut store).await {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let numbers_left = store.allocations()?.iter().map(|a| a.left).sum();
    Ok(EnrollReport {
        db: db_path.to_path_buf(),
        server_url,
        rsu_id: resp.rsu_id,
        rsu_no: resp.rsu_no,
        epoch,
        organization_name: resp.organization_name,
        key_id: resp.key_id,
        key_path,
        key_expires_at: resp.key_expires_at,
        clock_offset_ms: offset_ms,
        config_version,
        config_error,
        numbers_left,
    })
}

async fn pull_first_config(client: &mut Client, store: &mut Store) -> Result<i64, SyncError> {
    let a = client
        .call(reqwest::Method::GET, wire::PATH_CONFIG, Vec::new(), None)
        .await?;
    let resp: rsu_core::wire::ConfigResponse = serde_json::from_slice(&a.body)
        .map_err(|e| SyncError::BadAnswer(format!("config: {e}")))?;
    store.apply_config(&resp.config)?;
    let ids: Vec<uuid::Uuid> = resp.config.commands.iter().map(|c| c.id).collect();
    store.record_pull(Utc::now(), &ids)?;
    if let Some(off) = client.take_offset_change() {
        store.record_server_contact(Some(off))?;
    }
    Ok(resp.config.version)
}
