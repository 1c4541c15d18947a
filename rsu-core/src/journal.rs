//! The device journal: gap-free `seq`, canonical bytes and the SHA-256 hash chain (DESIGN §3 invariant 5).
//!
//! Every entry's hash is `SHA-256(prev_hash ‖ canonical_bytes)`, where the first entry of an epoch
//! chains from 32 zero bytes. The canonical bytes are a JSON object with keys sorted byte-wise, no
//! whitespace, and no floating-point numbers anywhere (money is integer minor units). The server
//! recomputes the same bytes from the fields it receives, so any client that follows
//! `canonical_bytes` can be verified.

use chrono::{DateTime, SecondsFormat, Utc};
use ring::digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use uuid::Uuid;

/// What a journal entry records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Sale,
    Void,
    Reprint,
    CriticalEvent,
    ShiftClose,
    AllocationRelease,
    /// Perk units a device did not issue, given back at close (issue 14).
    PerkRelease,
}

impl EntryKind {
    pub const ALL: [EntryKind; 7] = [
        EntryKind::Sale,
        EntryKind::Void,
        EntryKind::Reprint,
        EntryKind::CriticalEvent,
        EntryKind::ShiftClose,
        EntryKind::AllocationRelease,
        EntryKind::PerkRelease,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EntryKind::Sale => "sale",
            EntryKind::Void => "void",
            EntryKind::Reprint => "reprint",
            EntryKind::CriticalEvent => "critical_event",
            EntryKind::ShiftClose => "shift_close",
            EntryKind::AllocationRelease => "allocation_release",
            EntryKind::PerkRelease => "perk_release",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SHA-256 chain hash, hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first entry of every epoch.
    pub const GENESIS: ChainHash = ChainHash([0u8; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, JournalError> {
        let bytes = hex::decode(s).map_err(|_| JournalError::BadHash(s.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| JournalError::BadHash(s.to_string()))?;
        Ok(ChainHash(arr))
    }

    pub fn from_slice(b: &[u8]) -> Result<Self, JournalError> {
        let arr: [u8; 32] = b
            .try_into()
            .map_err(|_| JournalError::BadHash(hex::encode(b)))?;
        Ok(ChainHash(arr))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ChainHash {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9a-fA-F]{64}$"))
            .description(Some(
                "A SHA-256 chain hash, 64 hex digits (lower-case when the server sends it).",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ChainHash {}

impl TryFrom<String> for ChainHash {
    type Error = JournalError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ChainHash::from_hex(&s)
    }
}

impl From<ChainHash> for String {
    fn from(h: ChainHash) -> Self {
        h.to_hex()
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("{0:?} is not a SHA-256 hash: expected 64 hex digits")]
    BadHash(String),
    #[error(
        "the payload contains a floating-point number at {0}: money and counts must be integers"
    )]
    FloatInPayload(String),
    #[error("journal seq {found} follows {previous}: seq must increase by exactly one")]
    Gap { previous: u64, found: u64 },
    #[error("journal entry seq {seq} does not chain from the previous entry (prev_hash differs)")]
    BrokenLink { seq: u64 },
    #[error("journal entry seq {seq} has been altered: its hash does not match its content")]
    HashMismatch { seq: u64 },
}

/// The fields of an entry that are covered by its hash. Sync status, attempts and server answers
/// are deliberately not here: they live beside the entry and may change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EntryBody {
    /// The device epoch; a re-enrollment starts a new one and seq restarts at 1.
    pub epoch: i64,
    /// 1, 2, 3, … per device epoch, gap-free.
    pub seq: u64,
    /// A UUIDv7 made on the device.
    pub entry_id: Uuid,
    pub kind: EntryKind,
    /// Device time, corrected by the last known server offset.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    pub payload: Value,
}

/// A chained journal entry as it is stored and sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    #[serde(flatten)]
    pub body: EntryBody,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

/// Formats a timestamp as the journal does: RFC 3339, UTC, milliseconds, `Z`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub mod rfc3339_millis {
    //! Serde helpers so timestamps always appear in one canonical form.
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

pub mod opt_rfc3339_millis {
    //! [`super::rfc3339_millis`] for an optional timestamp.
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_time(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

impl EntryBody {
    /// The canonical bytes covered by the hash.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, JournalError> {
        let mut obj = serde_json::Map::new();
        obj.insert(
            "createdAt".into(),
            Value::String(format_time(&self.created_at)),
        );
        obj.insert("entryId".into(), Value::String(self.entry_id.to_string()));
        obj.insert("epoch".into(), Value::from(self.epoch));
        obj.insert("kind".into(), Value::String(self.kind.as_str().into()));
        obj.insert("payload".into(), self.payload.clone());
        obj.insert("seq".into(), Value::from(self.seq));
        let mut out = Vec::with_capacity(256);
        write_canonical(&Value::Object(obj), "$", &mut out)?;
        Ok(out)
    }

    /// Chains this body after `prev`.
    pub fn chain(self, prev: ChainHash) -> Result<JournalEntry, JournalError> {
        let hash = chain_hash(&prev, &self.canonical_bytes()?);
        Ok(JournalEntry {
            body: self,
            prev_hash: prev,
            hash,
        })
    }
}

/// `SHA-256(prev ‖ canonical)`.
pub fn chain_hash(prev: &ChainHash, canonical: &[u8]) -> ChainHash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&prev.0);
    ctx.update(canonical);
    let d = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    ChainHash(out)
}

/// Writes JSON with object keys sorted byte-wise and no whitespace, refusing floats.
/// Written by hand so that no serde_json feature (such as `preserve_order`) can change the bytes.
/// `path` names `v` in the error message (`$` for the root).
pub fn write_canonical(v: &Value, path: &str, out: &mut Vec<u8>) -> Result<(), JournalError> {
    write_value(v, out).map_err(|mut segments| {
        // The path is built only on failure, innermost segment first.
        segments.reverse();
        JournalError::FloatInPayload(format!("{path}{}", segments.concat()))
    })
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), Vec<String>> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(Vec::new());
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out).map_err(|mut p| {
                    p.push(format!("[{i}]"));
                    p
                })?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                if let Some(val) = map.get(*k) {
                    write_value(val, out).map_err(|mut p| {
                        p.push(format!(".{k}"));
                        p
                    })?;
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// serde_json's string escaping, which is deterministic for a given string.
fn write_string(s: &str, out: &mut Vec<u8>) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Verifies a run of entries of one epoch: contiguous seq, each linked to the previous hash,
/// each hash matching its content. `prev` is the hash and seq the run continues from
/// (`ChainHash::GENESIS` and 0 at the start of an epoch).
pub fn verify_chain<'a>(
    prev: (u64, ChainHash),
    entries: impl IntoIterator<Item = &'a JournalEntry>,
) -> Result<(u64, ChainHash), JournalError> {
    let (mut last_seq, mut last_hash) = prev;
    for e in entries {
        if e.body.seq != last_seq + 1 {
            return Err(JournalError::Gap {
                previous: last_seq,
                found: e.body.seq,
            });
        }
        if e.prev_hash != last_hash {
            return Err(JournalError::BrokenLink { seq: e.body.seq });
        }
        let expect = chain_hash(&e.prev_hash, &e.body.canonical_bytes()?);
        if expect != e.hash {
            return Err(JournalError::HashMismatch { seq: e.body.seq });
        }
        last_seq = e.body.seq;
        last_hash = e.hash;
    }
    Ok((last_seq, last_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(seq: u64, payload: Value) -> EntryBody {
        EntryBody {
            epoch: 1,
            seq,
            entry_id: Uuid::from_u128(seq as u128),
            kind: EntryKind::Sale,
            created_at: DateTime::parse_from_rfc3339("2026-06-28T14:25:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            payload,
        }
    }

    fn chain_of(n: u64) -> Vec<JournalEntry> {
        let mut prev = ChainHash::GENESIS;
        (1..=n)
            .map(|s| {
                let e = body(s, json!({"totalAmount": 2000, "b": [1, 2]}))
                    .chain(prev)
                    .unwrap();
                prev = e.hash;
                e
            })
            .collect()
    }

    #[test]
    fn canonical_bytes_sort_keys_and_have_no_whitespace() {
        let b = body(3, json!({"z": 1, "a": {"y": true, "b": null}}));
        let text = String::from_utf8(b.canonical_bytes().unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"createdAt":"2026-06-28T14:25:00.123Z","entryId":"00000000-0000-0000-0000-000000000003","epoch":1,"kind":"sale","payload":{"a":{"b":null,"y":true},"z":1},"seq":3}"#
        );
    }

    #[test]
    fn a_float_anywhere_in_a_payload_is_refused() {
        let b = body(1, json!({"price": {"amount": 20.5}}));
        assert_eq!(
            b.canonical_bytes(),
            Err(JournalError::FloatInPayload(
                "$.payload.price.amount".into()
            ))
        );
    }

    #[test]
    fn the_hash_is_sha256_of_prev_and_canonical_bytes() {
        let b = body(1, json!({}));
        let bytes = b.canonical_bytes().unwrap();
        let e = b.chain(ChainHash::GENESIS).unwrap();
        let mut input = vec![0u8; 32];
        input.extend_from_slice(&bytes);
        let d = digest::digest(&digest::SHA256, &input);
        assert_eq!(e.hash.0.as_slice(), d.as_ref());
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain_of(5);
        let (seq, head) = verify_chain((0, ChainHash::GENESIS), &c).unwrap();
        assert_eq!(seq, 5);
        assert_eq!(head, c[4].hash);
    }

    #[test]
    fn a_changed_payload_is_detected() {
        let mut c = chain_of(5);
        c[2].body.payload = json!({"totalAmount": 1, "b": [1, 2]});
        assert_eq!(
            verify_chain((0, ChainHash::GENESIS), &c),
            Err(JournalError::HashMismatch { seq: 3 })
        );
    }

    #[test]
    fn a_gap_and_a_broken_link_are_detected() {
        let mut c = chain_of(5);
        c.remove(2);
        assert_eq!(
            verify_chain((0, ChainHash::GENESIS), &c),
            Err(JournalError::Gap {
                previous: 2,
                found: 4
            })
        );
        let mut c = chain_of(3);
        // Re-chain entry 3 from a different predecessor: its own hash is valid but the link is not.
        c[2] = c[2].body.clone().chain(ChainHash([7; 32])).unwrap();
        assert_eq!(
            verify_chain((0, ChainHash::GENESIS), &c),
            Err(JournalError::BrokenLink { seq: 3 })
        );
    }

    #[test]
    fn entries_round_trip_through_json_with_camel_case_names() {
        let c = chain_of(1);
        let text = serde_json::to_string(&c[0]).unwrap();
        assert!(
            text.contains("\"entryId\"")
                && text.contains("\"prevHash\"")
                && text.contains("\"createdAt\"")
        );
        let back: JournalEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c[0]);
        verify_chain((0, ChainHash::GENESIS), [&back]).unwrap();
    }
}
