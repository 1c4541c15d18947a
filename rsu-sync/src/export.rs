//! The signed journal export (`rsu-app export`): every journal entry as a JSON line, then a
//! trailer signed with the device key (format: `rsu_core::export`). The server imports it with
//! `server-stub admin import-journal` through the same idempotent path as a push.

use chrono::Utc;
use rsu_core::export::{epoch_heads, ExportTrailer, EXPORT_FORMAT};
use rsu_store::{write_export_lines, Store};
use std::io::Write;
use std::path::Path;

use crate::{keyfile, SyncError};

/// Writes the signed export of the database at `db` to `out`; returns the trailer. A database
/// without a device key (the demo) gets an unsigned trailer, which the server refuses.
pub fn write_signed_export(db: &Path, out: &mut dyn Write) -> Result<ExportTrailer, SyncError> {
    let store = Store::open_existing(db)?;
    let rows = store.journal_for_export()?;
    let entries: Vec<_> = rows.iter().map(|(e, _, _)| e.clone()).collect();
    let epochs = epoch_heads(&entries).map_err(|e| {
        SyncError::Config(format!(
            "the journal does not verify ({e}): run `rsu-app verify` and contact support"
        ))
    })?;
    let ident = store.sync_identity()?;
    let key = match ident.key_id {
        Some(k) => Some((k, keyfile::load(db, k)?)),
        None => None,
    };
    let mut trailer = ExportTrailer {
        format: EXPORT_FORMAT.into(),
        rsu_id: ident.rsu_id,
        rsu_no: ident.rsu_no,
        key_id: key.as_ref().map(|(k, _)| *k),
        epochs,
        exported_at: Utc::now(),
        signature: None,
    };
    trailer.signature = key.map(|(_, k)| k.sign_hex(&trailer.message()));
    write_export_lines(&rows, out)?;
    let line = serde_json::json!({ "export": trailer });
    serde_json::to_writer(&mut *out, &line)
        .map_err(|e| SyncError::Config(format!("cannot write the export: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| SyncError::Config(format!("cannot write the export: {e}")))?;
    Ok(trailer)
}
