//! The signed journal export of a device (`rsu-app export`), for a device that cannot sync any
//! more (dead, lost and found, replaced): the server imports it through the same idempotent
//! path as a push (`server-stub admin import-journal`).
//!
//! The file is JSON lines: one `{"entry": JournalEntry, "syncStatus", "reasonCode"}` per journal
//! entry in (epoch, seq) order, then one trailer line `{"export": ExportTrailer}`. The trailer
//! carries, per epoch, how many entries the file holds and the hash of the last one, and an
//! Ed25519 signature of the device key over [`ExportTrailer::message`], so a file can be checked
//! without the device: a changed, added or removed entry breaks the chain or the signature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::journal::{rfc3339_millis, verify_chain, ChainHash, JournalEntry, JournalError};

/// The format name in every trailer.
pub const EXPORT_FORMAT: &str = "rsu-journal-export-v1";

/// One epoch of an export: entries 1..=`entries` and the hash of the last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EpochHead {
    pub epoch: i64,
    pub entries: u64,
    /// Hex of the last entry's hash.
    pub head: String,
}

/// The last line of an export file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportTrailer {
    pub format: String,
    pub rsu_id: Uuid,
    pub rsu_no: u32,
    /// The device key that signed (any key the RSU ever had; revoked keys still identify it).
    pub key_id: Option<Uuid>,
    pub epochs: Vec<EpochHead>,
    #[serde(with = "rfc3339_millis")]
    pub exported_at: DateTime<Utc>,
    /// 128 hex digits of the Ed25519 signature over [`ExportTrailer::message`]; `None` for a
    /// database that never had a key (the demo), which the server refuses to import.
    pub signature: Option<String>,
}

impl ExportTrailer {
    /// The bytes the device key signs:
    /// `RSU-JOURNAL-EXPORT-V1\n<rsu id>\n<key id>\n` then `<epoch>:<entries>:<head hex>\n` per
    /// epoch in order.
    pub fn message(&self) -> Vec<u8> {
        let mut s = format!(
            "RSU-JOURNAL-EXPORT-V1\n{}\n{}\n",
            self.rsu_id,
            self.key_id.map(|k| k.to_string()).unwrap_or_default()
        );
        for e in &self.epochs {
            s.push_str(&format!("{}:{}:{}\n", e.epoch, e.entries, e.head));
        }
        s.into_bytes()
    }
}

/// Why an export does not hold together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("epoch {epoch}, entry {seq}: {source}")]
    Chain {
        epoch: i64,
        seq: u64,
        source: JournalError,
    },
    #[error("epoch {epoch}: the file holds entries {found} but its trailer says {claimed}")]
    Count {
        epoch: i64,
        found: String,
        claimed: String,
    },
}

/// Groups `entries` by epoch, verifies each epoch's chain from seq 1, and returns the heads a
/// trailer must carry. The first bad entry is named.
pub fn epoch_heads(entries: &[JournalEntry]) -> Result<Vec<EpochHead>, ExportError> {
    let mut heads: Vec<EpochHead> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let epoch = entries[i].body.epoch;
        let j = i + entries[i..]
            .iter()
            .take_while(|e| e.body.epoch == epoch)
            .count();
        let run = &entries[i..j];
        let (n, head) =
            verify_chain((0, ChainHash::GENESIS), run).map_err(|source| ExportError::Chain {
                epoch,
                seq: first_bad_seq(&source, run),
                source,
            })?;
        heads.push(EpochHead {
            epoch,
            entries: n,
            head: head.to_hex(),
        });
        i = j;
    }
    Ok(heads)
}

fn first_bad_seq(e: &JournalError, run: &[JournalEntry]) -> u64 {
    match e {
        JournalError::Gap { found, .. } => *found,
        JournalError::BrokenLink { seq } | JournalError::HashMismatch { seq } => *seq,
        _ => run.first().map_or(0, |e| e.body.seq),
    }
}

/// Checks that the trailer describes exactly these entries.
pub fn check_trailer(trailer: &ExportTrailer, heads: &[EpochHead]) -> Result<(), ExportError> {
    let fmt = |h: &[EpochHead]| {
        h.iter()
            .map(|e| format!("epoch {} × {}", e.epoch, e.entries))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if trailer.epochs != heads {
        return Err(ExportError::Count {
            epoch: heads.first().map_or(0, |h| h.epoch),
            found: fmt(heads),
            claimed: fmt(&trailer.epochs),
        });
    }
    Ok(())
}
