//! Importing a dead device's exported journal (`rsu-app export` → `server-stub admin
//! import-journal`, issue 11): the trailer's signature is checked against the RSU's keys (any
//! key it ever had: a lost device's keys are revoked, its export still proves who wrote it),
//! every epoch's chain is verified from seq 1 (a tampered file is refused at its first bad
//! entry, with its seq), and the entries the server does not hold yet are applied through the
//! same ingest path as a push, in batches. Importing twice, or after a partial sync, applies
//! only what is new.

use chrono::Utc;
use rsu_core::export::{check_trailer, epoch_heads, ExportTrailer, EXPORT_FORMAT};
use rsu_core::journal::JournalEntry;
use rsu_core::validation::ValidationKey;
use rsu_core::wire::{self, PushRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Device;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// Entries per applied batch.
pub const IMPORT_BATCH: usize = 500;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportJournal {
    /// The RSU the file must belong to.
    #[arg(long)]
    pub rsu_id: Uuid,
    /// The file `rsu-app export --out FILE` wrote.
    #[arg(long)]
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

/// A parsed export file.
#[derive(Debug)]
pub struct ExportFile {
    pub entries: Vec<JournalEntry>,
    pub trailer: ExportTrailer,
}

fn bad(msg: impl Into<String>) -> AppError {
    AppError::of(ErrorCode::BadExport, msg.into())
}

/// Parses an export file's text: entry lines, then the trailer line.
pub fn parse_export(text: &str) -> AppResult<ExportFile> {
    let mut entries = Vec::new();
    let mut trailer: Option<ExportTrailer> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if trailer.is_some() {
            return Err(bad(format!(
                "line {}: there is text after the trailer line: the file was changed",
                i + 1
            )));
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| bad(format!("line {}: not JSON ({e})", i + 1)))?;
        if let Some(t) = v.get("export") {
            trailer =
                Some(serde_json::from_value(t.clone()).map_err(|e| {
                    bad(format!("line {}: the trailer is not readable ({e})", i + 1))
                })?);
        } else {
            let e: JournalEntry =
                serde_json::from_value(v.get("entry").cloned().unwrap_or(Value::Null))
                    .map_err(|e| bad(format!("line {}: field entry: {e}", i + 1)))?;
            entries.push(e);
        }
    }
    let trailer = trailer.ok_or_else(|| {
        bad("the file has no trailer line: it is not a complete `rsu-app export` (export it again)")
    })?;
    if trailer.format != EXPORT_FORMAT {
        return Err(bad(format!(
            "the trailer's format is {:?}, this server reads {EXPORT_FORMAT}",
            trailer.format
        )));
    }
    Ok(ExportFile { entries, trailer })
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub rsu_id: Uuid,
    pub entries_in_file: u64,
    /// Already on the server (synced before, or an earlier import).
    pub already_held: u64,
    pub applied: u64,
    pub rejected: u64,
    pub conflicts: u64,
    pub duplicates: u64,
    pub batches: u64,
}

/// Verifies and imports `file` for `rsu_id`. `progress(done, total)` is called after each batch.
pub async fn import_export(
    pool: &PgPool,
    rsu_id: Uuid,
    file: &ExportFile,
    mut progress: impl FnMut(u64, u64),
) -> AppResult<ImportReport> {
    let t = &file.trailer;
    if t.rsu_id != rsu_id {
        return Err(AppError::of(
            ErrorCode::WrongRsu,
            format!(
                "the file is the journal of RSU {} (rsuNo {}), not of RSU {rsu_id}: import it for its own RSU",
                t.rsu_id, t.rsu_no
            ),
        ));
    }
    type RsuRow = (Uuid, i32, String);
    let rsu: Option<RsuRow> = sqlx::query_as(
        "SELECT r.organization_id, r.rsu_no,
                COALESCE(o.settings->'rsuSettings'->>'validationNumberPrefix', 'RSU')
           FROM rsus r JOIN organizations o ON o.id = r.organization_id WHERE r.id = $1",
    )
    .bind(rsu_id)
    .fetch_optional(pool)
    .await?;
    let (org, rsu_no, prefix) = rsu.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownRsu,
            format!("field rsuId: no RSU {rsu_id}"),
        )
    })?;
    // The signature: by a key this RSU had (revoked keys included: the device may be lost).
    let (Some(key_id), Some(sig)) = (t.key_id, t.signature.as_deref()) else {
        return Err(bad(
            "the file is not signed (the database had no device key, e.g. the demo): it cannot be imported",
        ));
    };
    let public_key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT public_key FROM rsu_keys WHERE id = $1 AND rsu_id = $2")
            .bind(key_id)
            .bind(rsu_id)
            .fetch_optional(pool)
            .await?;
    let public_key = public_key.ok_or_else(|| {
        bad(format!(
            "the file is signed by key {key_id}, which was never a key of this RSU"
        ))
    })?;
    wire::verify_signature(&public_key, &t.message(), sig).map_err(|e| {
        bad(format!("the trailer's signature does not verify ({e}): the file was changed or is not this device's"))
    })?;
    // The chain of every epoch, and that the trailer describes exactly these entries.
    let heads = epoch_heads(&file.entries).map_err(|e| {
        bad(format!(
            "refused at the first bad entry: {e}; nothing was imported"
        ))
    })?;
    check_trailer(t, &heads).map_err(|e| bad(format!("{e}; nothing was imported")))?;

    let total = file.entries.len() as u64;
    let mut report = ImportReport {
        rsu_id,
        entries_in_file: total,
        ..Default::default()
    };
    let mut done = 0u64;
    for head in &heads {
        let epoch =
            i32::try_from(head.epoch).map_err(|_| bad("an epoch number is out of range"))?;
        let row: Option<(i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT last_seq, validation_key FROM rsu_epochs WHERE rsu_id = $1 AND epoch = $2",
        )
        .bind(rsu_id)
        .bind(epoch)
        .fetch_optional(pool)
        .await?;
        let Some((last_seq, vkey)) = row else {
            return Err(AppError::of(
                ErrorCode::UnknownEpoch,
                format!(
                    "the file holds epoch {} of RSU {rsu_no}, which the server never enrolled: is it another server's device?",
                    head.epoch
                ),
            ));
        };
        let device = Device {
            rsu_id,
            key_id,
            organization_id: org,
            rsu_no: u32::try_from(rsu_no).unwrap_or(0),
            current_epoch: head.epoch,
            validation_prefix: prefix.clone(),
            validation_key: vkey.as_deref().map(ValidationKey::new),
            key_expires_at: Utc::now(),
            key_expired: false,
            nonce: String::new(),
        };
        let run: Vec<&JournalEntry> = file
            .entries
            .iter()
            .filter(|e| e.body.epoch == head.epoch)
            .collect();
        let held = u64::try_from(last_seq).unwrap_or(0);
        let new: Vec<JournalEntry> = run
            .iter()
            .filter(|e| e.body.seq > held)
            .map(|e| (*e).clone())
            .collect();
        report.already_held += run.len() as u64 - new.len() as u64;
        done += run.len() as u64 - new.len() as u64;
        progress(done, total);
        for batch in new.chunks(IMPORT_BATCH) {
            let req = PushRequest {
                epoch: head.epoch,
                entries: batch.to_vec(),
            };
            let forms = vec![None; batch.len()];
            // Each batch carries a nonce of its own (recorded with the batch, like a push's).
            let dev = Device {
                nonce: format!("import-{}", Uuid::now_v7().simple()),
                ..device.clone()
            };
            let res = crate::ingest::push(pool, &dev, &req, &forms, Utc::now()).await?;
            for r in &res.results {
                match r.status {
                    wire::EntryStatus::Applied => report.applied += 1,
                    wire::EntryStatus::Rejected => report.rejected += 1,
                    wire::EntryStatus::Conflict => report.conflicts += 1,
                    wire::EntryStatus::Duplicate => report.duplicates += 1,
                }
            }
            report.batches += 1;
            done += batch.len() as u64;
            progress(done, total);
        }
    }
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('device_journal', 'INSERT', $1, $2, $3)",
    )
    .bind(rsu_id)
    .bind(json!({"import": report, "keyId": key_id, "epochs": heads}))
    .bind(crate::accounts::changed_by())
    .execute(pool)
    .await?;
    Ok(report)
}

/// The largest export accepted over HTTP (the CLI reads any size).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportQuery {
    pub rsu_id: Uuid,
}
