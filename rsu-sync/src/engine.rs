//! The thin, effectful half of the engine: performs what [`crate::plan::plan`] decides, over
//! signed HTTP, and records every answer in the store.
//!
//! Exactness comes from three rules (docs/sync.md "The rules sync follows"): the journal is the outbox (an entry
//! stays `pending` until the server's per-entry answer is recorded beside it); every push is a
//! contiguous run of seqs that the server applies idempotently (so resending after a lost answer
//! is always safe); and an answer that is not a complete 2xx body means *unknown*, which is
//! handled by sending the same entries again later. One push is in flight at a time.
//!
//! The store is synchronous (rusqlite); its calls are short single transactions and run on the
//! daemon's own runtime, which has nothing else to do meanwhile.
//!
//! Why this file is over 600 lines: it is one `impl Engine` whose steps (rotate, pull, top up,
//! heartbeat, push) share the signed `call` and the round's report, and are read in the order a
//! round performs them; about 60 of its lines are unit tests. The decisions are in `plan.rs`.

use chrono::{DateTime, Utc};
use rsu_core::printer_status::PrinterCondition;
use rsu_core::wire::{
    self, ConfigResponse, EntryResult, EntryStatus, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    PushRequest, PushResponse, TopUpRequest, TopUpResponse,
};
use rsu_store::{EntryOutcome, Store, SyncIdentity, SyncResult};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::client::{self, Answer, Client};
use crate::plan::{plan, EventNumbers, Intervals, LastAnswer, LocalState, Op};
use crate::{crash, keyfile, Settings, SyncError};

/// What one round did, for logs, `--once` and tests.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundReport {
    /// The planned operations, in order.
    pub ops: Vec<String>,
    /// Pushes answered with 2xx.
    pub batches: u64,
    pub applied: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub conflicts: u64,
    /// Set when a 409 gap made the engine resend from this seq.
    pub resent_from: Option<u64>,
    pub config_applied: Option<i64>,
    pub top_up: Option<(i64, i64)>,
    pub heartbeat: bool,
    /// The round was skipped because the backoff has not ended.
    pub backoff_until: Option<DateTime<Utc>>,
    pub pending_after: u64,
    pub error_code: Option<String>,
    pub error: Option<String>,
}

impl RoundReport {
    /// True when the round succeeded and nothing is left pending.
    pub fn fully_synced(&self) -> bool {
        self.error.is_none() && self.backoff_until.is_none() && self.pending_after == 0
    }
}

/// The sync engine of one device database.
pub struct Engine {
    store: Store,
    client: Client,
    ident: SyncIdentity,
    intervals: Intervals,
    backoff: Backoff,
    poll_interval: Duration,
    batch_size: usize,
    last: LastAnswer,
    contacted: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("db", &self.store.path())
            .field("client", &self.client)
            .finish()
    }
}

/// SHA-256 of the running binary, hex (sent at enrollment and in heartbeats). Computed once,
/// on first use, so a daemon start does not wait for hashing its own binary.
pub fn app_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::read)
            .map(|b| wire::body_sha256_hex(&b))
            .unwrap_or_else(|_| "0".repeat(64))
    })
    .clone()
}

fn outcome(r: &EntryResult) -> EntryOutcome {
    // A duplicate carries how the entry was answered the first time: keep that on the device,
    // so a rejection stays visible even when its first answer was lost.
    let first = match r.status {
        EntryStatus::Duplicate => r.first_status.unwrap_or(EntryStatus::Applied),
        s => s,
    };
    let message = r.message.clone().unwrap_or_default();
    match (r.status, first) {
        (_, EntryStatus::Rejected) => EntryOutcome::Rejected {
            code: r
                .code
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "rejected".into()),
            message,
        },
        (_, EntryStatus::Conflict) => EntryOutcome::Conflict {
            message: match r.code {
                Some(c) => format!("{c}: {message}"),
                None => message,
            },
        },
        (EntryStatus::Duplicate, _) => EntryOutcome::Duplicate,
        _ => EntryOutcome::Applied,
    }
}

fn parse<T: serde::de::DeserializeOwned>(a: &Answer, what: &str) -> Result<T, SyncError> {
    serde_json::from_slice(&a.body)
        .map_err(|e| SyncError::BadAnswer(format!("{what} (status {}): {e}", a.status)))
}

impl Engine {
    /// Opens the device database at `db` and prepares to talk to its server.
    pub fn open(db: &Path, settings: &Settings) -> Result<Engine, SyncError> {
        settings.validate()?;
        let mut store = Store::open_existing(db)?;
        // The daemon's writes take their turn at the write lock, so that a kiosk selling back
        // to back cannot starve the drain (rsu-store `turn.rs`, issue 16).
        store.take_write_turns()?;
        store.ensure_sync_state()?;
        let ident = store.sync_identity()?;
        let url = settings
            .server
            .clone()
            .or_else(|| ident.server_url.clone())
            .ok_or_else(|| {
                SyncError::Config(
                    "no server URL: the device was not enrolled with a server; pass --server or enroll it".into(),
                )
            })?;
        let key_id = ident.key_id.ok_or_else(|| {
            SyncError::Config(
                "the device has no key id (it was set up as a demo): enroll it with `rsu-syncd enroll`".into(),
            )
        })?;
        let key = keyfile::load(db, key_id)?;
        let base = client::parse_base(&url)?;
        let http = client::http_client(
            &base,
            settings.request_timeout(),
            settings.connect_timeout(),
        )?;
        let client = Client::new(
            http,
            base,
            key,
            ident.rsu_id,
            key_id,
            settings.request_timeout(),
            ident.clock_offset_ms,
        );
        Ok(Engine {
            store,
            client,
            ident,
            intervals: Intervals {
                pull: chrono::Duration::seconds(settings.pull_interval_secs as i64),
                heartbeat: chrono::Duration::seconds(settings.heartbeat_interval_secs as i64),
                top_up_retry: Intervals::default().top_up_retry,
            },
            backoff: settings.backoff(),
            poll_interval: settings.poll_interval(),
            batch_size: settings.batch_size,
            last: LastAnswer::default(),
            contacted: false,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// What the server last said (tests look at it).
    pub fn last_answer(&self) -> &LastAnswer {
        &self.last
    }

    /// The batch size the server's last push answer asked for (`X-Rsu-Batch-Max`), if any.
    pub fn client_batch_max(&self) -> Option<usize> {
        self.client.batch_max()
    }

    fn local_state(&mut self) -> Result<LocalState, SyncError> {
        // A `close` command from the server waits for the last receipt to be confirmed.
        if let Some(closed) = self.store.complete_requested_closes()? {
            tracing::info!(events = ?closed.event_ids, "device closed by the server's command: {closed}");
        }
        self.ident = self.store.sync_identity()?;
        let counts = self.store.sync_counts()?;
        let state = self.store.sync_state()?;
        Ok(LocalState {
            pending_entries: counts.pending_entries,
            config_version: self.ident.config_version,
            low_water_mark: self.store.low_water_mark()?,
            events: self
                .store
                .top_up_candidates()?
                .into_iter()
                .map(|c| EventNumbers {
                    event_id: c.event_id,
                    state: if c.suspended {
                        "suspended".into()
                    } else {
                        c.state
                    },
                    numbers_left: c.numbers_left,
                })
                .collect(),
            unacked_commands: state.unacked_commands.len(),
            key_rotation_due: self.key_rotation_due()?,
        })
    }

    /// Whether the key is past two thirds of its lifetime (the lifetime is the server's
    /// `apiKeyRotationDays`), so that a device offline for a while still rotates in time.
    fn key_rotation_due(&self) -> Result<bool, SyncError> {
        let keys = self.store.key_state()?;
        let Some(expires) = keys.key_expires_at else {
            return Ok(false);
        };
        let lifetime = chrono::Duration::days(self.store.key_lifetime_days()?.max(1));
        Ok(self.client.now() >= expires - lifetime / 3)
    }

    /// One round: plan, perform, record. Never panics; errors end up in the report and in the
    /// store (`rsu-syncd status`), and start the backoff.
    pub async fn round(&mut self) -> RoundReport {
        let mut report = RoundReport::default();
        let result = self.round_inner(&mut report).await;
        let now = Utc::now();
        if self.contacted {
            self.contacted = false;
            // The store moves the clock back in capped steps: offer the server's offset again
            // until the store has taken all of it.
            let offset = self.client.take_offset_change().or_else(|| {
                let (stored, wanted) = (self.ident.clock_offset_ms, self.client.offset_ms());
                (stored != wanted).then_some(wanted)
            });
            if let Err(e) = self.store.record_server_contact(offset) {
                tracing::warn!(error = %e, "recording the server contact failed");
            }
        }
        match result {
            Ok(()) if report.backoff_until.is_some() => {}
            Ok(()) => {
                self.last.retry_at = None;
                if let Err(e) = self.store.record_sync_success(now) {
                    tracing::warn!(error = %e, "recording the round failed");
                }
            }
            Err(e) => {
                let failures = self
                    .store
                    .record_sync_failure(now, e.code(), &e.to_string())
                    .unwrap_or(1);
                // A busy server says when to come back; otherwise back off exponentially.
                let wait = e
                    .retry_after()
                    .unwrap_or_else(|| self.backoff.delay_random(failures));
                self.last.retry_at =
                    Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
                tracing::warn!(
                    code = e.code(),
                    failures,
                    retry_in_ms = wait.as_millis() as u64,
                    "sync round failed: {e}"
                );
                report.error_code = Some(e.code().into());
                report.error = Some(e.to_string());
            }
        }
        report.pending_after = self
            .store
            .sync_counts()
            .map(|c| c.pending_entries)
            .unwrap_or(u64::MAX);
        if report.batches > 0 || report.config_applied.is_some() || report.top_up.is_some() {
            tracing::info!(
                batches = report.batches,
                applied = report.applied,
                duplicates = report.duplicates,
                rejected = report.rejected,
                conflicts = report.conflicts,
                pending = report.pending_after,
                config = ?report.config_applied,
                top_up = ?report.top_up,
                "sync round"
            );
        }
        report
    }

    /// One round that ignores a running backoff (`--once`, tests).
    pub async fn round_now(&mut self) -> RoundReport {
        self.last.retry_at = None;
        self.round().await
    }

    /// Performs the planned operations. Pushing never depends on anything before it: a failed
    /// key rotation, pull or top-up is logged and the round goes on to push (and reports the
    /// first failure at the end, which starts the backoff). A failed push ends the round.
    async fn round_inner(&mut self, report: &mut RoundReport) -> Result<(), SyncError> {
        let local = self.local_state()?;
        let ops = plan(&local, &self.last, &self.intervals, Utc::now());
        report.ops = ops.iter().map(|o| format!("{o:?}")).collect();
        let mut first_error: Option<SyncError> = None;
        for op in ops {
            let (what, result) = match op {
                Op::BackOff { until } => {
                    report.backoff_until = Some(until);
                    return Ok(());
                }
                Op::RotateKey => ("key rotation", self.rotate_key().await),
                Op::Pull => ("pull", self.pull(report, false).await),
                Op::TopUp { event_id } => ("top-up", self.top_up(event_id, report).await),
                Op::Push => {
                    self.push_all(report).await?;
                    continue;
                }
                Op::Heartbeat => ("heartbeat", self.heartbeat(report).await),
            };
            if let Err(e) = result {
                tracing::warn!(
                    code = e.code(),
                    "{what} failed, going on with the round: {e}"
                );
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Rotates the device key ahead of its expiry (DESIGN §6), crash-safe at every step:
    /// 1. the new key is written to `<db>.rotating.pk8` (or a key left there by a crash is reused);
    /// 2. `POST /v1/rsu/keys` signed with the current key (the server answers the same key id
    ///    for the same public key, so a lost answer is simply asked again);
    /// 3. the key file is moved to its key-id name, then the store switches to it, keeping the
    ///    old key id until the new key has been used once;
    /// 4. the first good answer to a request signed with the new key removes the old key file.
    async fn rotate_key(&mut self) -> Result<(), SyncError> {
        let db = self.store.path().to_path_buf();
        let pending = keyfile::rotating_key_path(&db);
        let key = match std::fs::metadata(&pending) {
            Ok(_) => keyfile::load_path(&pending)?,
            Err(_) => {
                let k = rsu_core::wire::DeviceKey::generate()
                    .map_err(|e| SyncError::Key(e.to_string()))?;
                keyfile::write_private(&pending, k.pkcs8())?;
                k
            }
        };
        let body = serde_json::to_vec(&wire::RotateKeyRequest {
            public_key: key.public_key_hex(),
        })
        .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let a = self
            .call(reqwest::Method::POST, wire::PATH_KEYS, body, None)
            .await?;
        let resp: wire::RotateKeyResponse = parse(&a, "key rotation")?;
        crash::point("mid_rotation");
        let path = keyfile::key_path(&db, resp.key_id);
        keyfile::rename(&pending, &path)?;
        self.store.record_key_rotation(
            resp.key_id,
            resp.key_expires_at,
            &path.display().to_string(),
        )?;
        self.client.set_key(key, resp.key_id);
        self.ident.key_id = Some(resp.key_id);
        tracing::info!(key_id = %resp.key_id, expires = %resp.key_expires_at, "device key rotated");
        Ok(())
    }

    /// After a good answer to a request signed with a rotated key: the old key file goes.
    fn confirm_rotated_key(&mut self) {
        match self.store.confirm_key() {
            Ok(Some(old)) => {
                let _ = std::fs::remove_file(keyfile::key_path(self.store.path(), old));
                tracing::info!(old_key = %old, "new device key confirmed; the old key was removed");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "recording the confirmed key failed"),
        }
    }

    /// Runs rounds until `shutdown` turns true: after a good round it goes straight on while
    /// sales are pending and otherwise polls every `poll_interval`; after a failed one it waits
    /// out the backoff. An in-flight request is abandoned at shutdown, which is safe: every
    /// request is idempotent and its entries stay pending until an answer is recorded.
    pub async fn run(
        &mut self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), SyncError> {
        tracing::info!(server = %self.client.base(), db = %self.store.path().display(), "rsu-syncd running");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let report = tokio::select! {
                r = self.round() => r,
                _ = shutdown.changed() => break,
            };
            let wait = if let Some(until) = self.last.retry_at {
                (until - Utc::now()).to_std().unwrap_or_default()
            } else if report.pending_after > 0 && report.batches > 0 {
                Duration::ZERO
            } else {
                self.poll_interval
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => break,
            }
        }
        tracing::info!("rsu-syncd stopped");
        Ok(())
    }

    /// One call, retried once after a 401 that corrected the clock offset.
    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        crash_after_send: Option<&str>,
    ) -> Result<Answer, SyncError> {
        let mut retried = false;
        loop {
            let r = self
                .client
                .call(method.clone(), path, body.clone(), crash_after_send)
                .await;
            match r {
                Err(SyncError::Unauthorized {
                    ref code,
                    server_time: Some(_),
                    ..
                }) if ErrorCode::ClockSkew.is(code) && !retried => {
                    retried = true;
                    tracing::warn!(
                        offset_ms = self.client.offset_ms(),
                        "the server refused our timestamp; clock offset corrected, signing again"
                    );
                    if let Some(off) = self.client.take_offset_change() {
                        self.store.record_server_contact(Some(off))?;
                    }
                }
                r => {
                    if r.is_ok() || matches!(r, Err(SyncError::Gap { .. })) {
                        self.contacted = true;
                        if path != wire::PATH_KEYS {
                            self.confirm_rotated_key();
                        }
                    }
                    return r;
                }
            }
        }
    }

    async fn pull(&mut self, report: &mut RoundReport, force: bool) -> Result<(), SyncError> {
        let a = self
            .call(reqwest::Method::GET, wire::PATH_CONFIG, Vec::new(), None)
            .await?;
        let resp: ConfigResponse = parse(&a, "config")?;
        crash::point("mid_pull");
        if let Some(expires) = resp.key_expires_at {
            self.store.set_key_expiry(expires)?;
        }
        let now = Utc::now();
        if resp.epoch != self.ident.epoch {
            tracing::warn!(
                server_epoch = resp.epoch,
                device_epoch = self.ident.epoch,
                "the server's current epoch differs from this device's: was the RSU enrolled on another device?"
            );
        }
        let state = self.store.sync_state()?;
        let new_commands: Vec<Uuid> = resp
            .config
            .commands
            .iter()
            .map(|c| c.id)
            .filter(|id| !state.unacked_commands.contains(id))
            .collect();
        let current = self.store.sync_identity()?.config_version;
        if force || resp.config.version > current || !new_commands.is_empty() {
            if self.store.apply_config(&resp.config)? {
                report.config_applied = Some(resp.config.version);
                tracing::info!(version = resp.config.version, "configuration applied");
            }
            let ids: Vec<Uuid> = resp.config.commands.iter().map(|c| c.id).collect();
            self.store.record_pull(now, &ids)?;
        } else {
            self.store.record_pull(now, &[])?;
        }
        self.last.last_pull_at = Some(now);
        self.last.server_config_version = Some(resp.config.version);
        Ok(())
    }

    async fn top_up(&mut self, event_id: Uuid, report: &mut RoundReport) -> Result<(), SyncError> {
        let body = serde_json::to_vec(&TopUpRequest {
            event_id,
            count: None,
        })
        .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        match self
            .call(reqwest::Method::POST, wire::PATH_ALLOCATIONS, body, None)
            .await
        {
            Ok(a) => {
                let resp: TopUpResponse = parse(&a, "top-up")?;
                report.top_up = Some((resp.allocation.start_number, resp.allocation.end_number));
                tracing::info!(
                    start = resp.allocation.start_number,
                    end = resp.allocation.end_number,
                    "allocation top-up received"
                );
                self.pull(report, true).await
            }
            Err(SyncError::Refused {
                status,
                code,
                message,
            }) if status == 409 || status == 404 => {
                tracing::warn!(%event_id, code, "top-up refused: {message}");
                self.last.top_up_refused.retain(|(e, _)| *e != event_id);
                self.last.top_up_refused.push((event_id, Utc::now()));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn heartbeat(&mut self, report: &mut RoundReport) -> Result<(), SyncError> {
        let counts = self.store.sync_counts()?;
        let state = self.store.sync_state()?;
        let now = self.client.now();
        // The kiosk records the printer's condition after every job; before the first, unknown.
        let printer = self.store.printer_status()?;
        let req = HeartbeatRequest {
            epoch: self.ident.epoch,
            last_seq: counts.last_seq,
            pending_count: counts.pending_entries,
            oldest_pending_age_secs: counts
                .oldest_pending_at
                .map(|t| (now - t).num_seconds().max(0) as u64),
            printer_status: printer
                .as_ref()
                .map_or(PrinterCondition::Unknown, |p| p.condition)
                .as_str()
                .into(),
            printer_status_age_secs: printer
                .as_ref()
                .map(|p| (now - p.recorded_at).num_seconds().max(0) as u64),
            app_version: crate::APP_VERSION.into(),
            app_hash: app_hash(),
            acknowledged_commands: state.unacked_commands.clone(),
        };
        let body = serde_json::to_vec(&req).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let a = self
            .call(reqwest::Method::POST, wire::PATH_HEARTBEAT, body, None)
            .await?;
        let resp: HeartbeatResponse = parse(&a, "heartbeat")?;
        let at = Utc::now();
        self.store
            .record_heartbeat(at, resp.config_version, &state.unacked_commands)?;
        self.last.last_heartbeat_at = Some(at);
        self.last.server_config_version = Some(resp.config_version);
        report.heartbeat = true;
        Ok(())
    }

    /// Pushes every pending entry: contiguous runs of one epoch, in seq order, `batch_size` at a
    /// time, one in flight. Per-entry answers are recorded as they come, so a rejection is final
    /// for that entry and never holds back the ones after it.
    async fn push_all(&mut self, report: &mut RoundReport) -> Result<(), SyncError> {
        let mut resend_from: Option<(i64, u64)> = None;
        let mut gaps = 0u32;
        // A round pushes what existed when it started, so it ends even while the kiosk sells
        // faster than one batch per round trip; the daemon starts the next round at once.
        let through = (self.ident.epoch, self.store.sync_counts()?.last_seq);
        loop {
            // The configured size (halved after a 413), and no more than the server's last
            // answer asked for while other devices' pushes queue (`X-Rsu-Batch-Max`).
            let size = self
                .batch_size
                .min(self.client.batch_max().unwrap_or(usize::MAX));
            let mut entries = match resend_from.take() {
                Some((epoch, seq)) => {
                    let mut v = self.store.entries_from(epoch, seq)?;
                    v.truncate(size);
                    v
                }
                None => self.store.pending_entries(size)?,
            };
            entries.retain(|e| (e.body.epoch, e.body.seq) <= through);
            let Some(first) = entries.first() else {
                return Ok(());
            };
            let epoch = first.body.epoch;
            let mut n = 1;
            while n < entries.len()
                && entries[n].body.epoch == epoch
                && entries[n].body.seq == entries[n - 1].body.seq + 1
            {
                n += 1;
            }
            entries.truncate(n);
            let keys: Vec<(i64, u64)> = entries.iter().map(|e| (epoch, e.body.seq)).collect();
            let hashes: Vec<(u64, String)> = entries
                .iter()
                .map(|e| (e.body.seq, e.hash.to_hex()))
                .collect();
            let (lo, hi) = (keys[0].1, keys[keys.len() - 1].1);
            let body = serde_json::to_vec(&PushRequest { epoch, entries })
                .map_err(|e| SyncError::BadAnswer(format!("cannot encode the batch: {e}")))?;
            match self
                .call(
                    reqwest::Method::POST,
                    wire::PATH_JOURNAL,
                    body,
                    Some("after_send"),
                )
                .await
            {
                Ok(a) => {
                    let resp: PushResponse = parse(&a, "push")?;
                    crash::point("after_answer");
                    let results: Vec<SyncResult> = resp
                        .results
                        .iter()
                        .filter(|r| (lo..=hi).contains(&r.seq))
                        .map(|r| SyncResult {
                            epoch,
                            seq: r.seq,
                            outcome: outcome(r),
                        })
                        .collect();
                    if results.is_empty() {
                        return Err(SyncError::BadAnswer(format!(
                            "the server answered none of seqs {lo}..={hi} (acked through {})",
                            resp.acked_through_seq
                        )));
                    }
                    self.store.record_push_answer(
                        &results,
                        resp.acked_through_seq,
                        &resp.chain_head.to_hex(),
                        resp.chain_verified,
                    )?;
                    crash::point("after_record");
                    if let Err(e) = self.store.checkpoint() {
                        tracing::warn!(error = %e, "checkpoint after a batch failed; SQLite checkpoints on its own");
                    }
                    if let Some((_, h)) = hashes.iter().find(|(s, _)| *s == resp.acked_through_seq)
                    {
                        if *h != resp.chain_head.to_hex() {
                            tracing::error!(seq = resp.acked_through_seq, "the server's chain head differs from this device's hash at that seq");
                        }
                    }
                    if !resp.chain_verified {
                        tracing::error!(
                            "the server reports this epoch's chain as broken: contact support"
                        );
                    }
                    report.batches += 1;
                    for r in &results {
                        match r.outcome {
                            EntryOutcome::Applied => report.applied += 1,
                            EntryOutcome::Duplicate => report.duplicates += 1,
                            EntryOutcome::Rejected { .. } => report.rejected += 1,
                            EntryOutcome::Conflict { .. } => report.conflicts += 1,
                        }
                    }
                }
                Err(SyncError::Gap { expected }) => {
                    gaps += 1;
                    if gaps > 100_000 || expected >= lo {
                        return Err(SyncError::BadAnswer(format!(
                            "the server keeps asking for seq {expected} (sent {lo}..={hi})"
                        )));
                    }
                    tracing::warn!(
                        expected,
                        sent_from = lo,
                        "the server holds less than we thought: resending"
                    );
                    report.resent_from = Some(expected);
                    resend_from = Some((epoch, expected));
                }
                Err(SyncError::TooLarge) if self.batch_size > 1 => {
                    self.batch_size = (self.batch_size / 2).max(1);
                    tracing::warn!(batch_size = self.batch_size, "batch too large: halving");
                }
                Err(e) => {
                    self.store.record_attempt_failure(&keys, &e.to_string())?;
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsu_core::wire::EntryCode;

    fn result(
        status: EntryStatus,
        first: Option<EntryStatus>,
        code: Option<EntryCode>,
    ) -> EntryResult {
        EntryResult {
            seq: 1,
            entry_id: Uuid::nil(),
            status,
            code,
            message: Some("m".into()),
            first_status: first,
            flags: vec![],
        }
    }

    #[test]
    fn answers_map_to_outcomes_and_a_duplicate_keeps_its_first_rejection() {
        use EntryStatus::*;
        let rej = |c: &str| EntryOutcome::Rejected {
            code: c.into(),
            message: "m".into(),
        };
        let table = [
            (result(Applied, None, None), EntryOutcome::Applied),
            (
                result(Duplicate, Some(Applied), None),
                EntryOutcome::Duplicate,
            ),
            (result(Duplicate, None, None), EntryOutcome::Duplicate),
            (
                result(Rejected, None, Some(EntryCode::DrawNumberTaken)),
                rej("draw_number_taken"),
            ),
            (
                result(Duplicate, Some(Rejected), Some(EntryCode::BadTag)),
                rej("bad_tag"),
            ),
            (
                result(Conflict, None, Some(EntryCode::SeqConflict)),
                EntryOutcome::Conflict {
                    message: "seq_conflict: m".into(),
                },
            ),
            (
                result(Duplicate, Some(Conflict), Some(EntryCode::IdConflict)),
                EntryOutcome::Conflict {
                    message: "id_conflict: m".into(),
                },
            ),
        ];
        for (r, want) in table {
            assert_eq!(outcome(&r), want, "{r:?}");
        }
    }
}
