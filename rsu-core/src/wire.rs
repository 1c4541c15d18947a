//! Wire types of the sync protocol (DESIGN §6), version `v1`, camelCase JSON, and the request
//! signing that every device request carries. The device's sync engine and the server both use
//! these types, so the two cannot drift. `docs/protocol.md` is the prose version of this module.
//!
//! No I/O happens here, except that [`DeviceKey::generate`] and [`new_nonce`] read the system
//! random number generator through `ring`.
//!
//! Why this file is over 600 lines: it is the whole `v1` protocol, one section per endpoint
//! (signing, errors, enrollment, configuration, push, heartbeat) in the order of
//! docs/protocol.md, so the prose and the types can be read side by side; about 70 of its lines
//! are tests. Request-level error codes are `error_code.rs`.

use chrono::{DateTime, Utc};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::config::{AllocationConfig, DeviceConfig};
pub use crate::error_code::ErrorCode;
use crate::journal::{rfc3339_millis, ChainHash, JournalEntry};

/// The protocol version, the first segment of every path.
pub const PROTOCOL_VERSION: &str = "v1";

/// Paths of the device endpoints.
pub const PATH_ENROLL: &str = "/v1/rsu/enroll";
pub const PATH_CONFIG: &str = "/v1/rsu/config";
pub const PATH_ALLOCATIONS: &str = "/v1/rsu/allocations";
pub const PATH_JOURNAL: &str = "/v1/rsu/journal";
pub const PATH_HEARTBEAT: &str = "/v1/rsu/heartbeat";
pub const PATH_KEYS: &str = "/v1/rsu/keys";

/// Request headers of a signed device request.
pub const HEADER_RSU_ID: &str = "x-rsu-id";
pub const HEADER_KEY_ID: &str = "x-rsu-key-id";
pub const HEADER_TIMESTAMP: &str = "x-rsu-timestamp";
pub const HEADER_NONCE: &str = "x-rsu-nonce";
pub const HEADER_SIGNATURE: &str = "x-rsu-signature";
/// Response header carrying the server's clock (RFC 3339) on every response.
pub const HEADER_SERVER_TIME: &str = "x-server-time";
/// Response header of every journal push answer (200 and 503 `server_busy`): the most entries
/// the server wants in the device's next push, smaller while other devices' pushes queue
/// (docs/protocol.md §9). A device sends at most this many, and at most its own batch size.
pub const HEADER_BATCH_MAX: &str = "x-rsu-batch-max";

/// The first line of the string to sign; it changes if the scheme ever changes.
pub const SIGNATURE_SCHEME: &str = "RSU-ED25519-V1";

/// How far a request's timestamp may be from the server's clock, in seconds.
pub const CLOCK_WINDOW_SECS: i64 = 300;

/// Largest journal push body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Most entries in one push.
pub const MAX_BATCH_ENTRIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("nonce must be 16 to 64 characters of A-Z, a-z, 0-9, '-' or '_'")]
    BadNonce,
    #[error("{0} is not valid hex of the expected length")]
    BadHex(&'static str),
    #[error("the signature does not verify against the device's public key")]
    BadSignature,
    #[error("the device key could not be created or read: {0}")]
    BadKey(String),
    #[error("the system random number generator failed")]
    Random,
}

// ---------------------------------------------------------------------------------------------
// Request signing
// ---------------------------------------------------------------------------------------------

/// SHA-256 of `body`, lower-case hex. The hash of an empty body is
/// `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, body).as_ref())
}

/// The fields covered by a request signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedParts<'a> {
    /// Upper-case HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The request target exactly as sent: path plus `?query` if there is one.
    pub path_and_query: &'a str,
    pub rsu_id: Uuid,
    pub key_id: Uuid,
    /// Unix seconds.
    pub timestamp: i64,
    pub nonce: &'a str,
    /// [`body_sha256_hex`] of the exact body bytes.
    pub body_sha256_hex: &'a str,
}

impl SignedParts<'_> {
    /// The exact bytes that are signed: seven lines joined by `\n`, no trailing newline.
    ///
    /// ```text
    /// RSU-ED25519-V1
    /// POST
    /// /v1/rsu/journal
    /// 0190a1b2-…(rsu id, lower-case hyphenated)
    /// 0190a1b3-…(key id)
    /// 1751120700
    /// 3f1c…(nonce)
    /// 9b2e…(SHA-256 of the body, lower-case hex)
    /// ```
    pub fn string_to_sign(&self) -> Vec<u8> {
        format!(
            "{SIGNATURE_SCHEME}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.method.to_ascii_uppercase(),
            self.path_and_query,
            self.rsu_id.hyphenated(),
            self.key_id.hyphenated(),
            self.timestamp,
            self.nonce,
            self.body_sha256_hex
        )
        .into_bytes()
    }
}

/// Checks a nonce's form: 16 to 64 characters of `[A-Za-z0-9_-]`.
pub fn check_nonce(nonce: &str) -> Result<(), WireError> {
    let ok = (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(WireError::BadNonce)
    }
}

/// A fresh nonce: 16 random bytes as 32 hex digits.
pub fn new_nonce() -> Result<String, WireError> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| WireError::Random)?;
    Ok(hex::encode(b))
}

/// The device's Ed25519 key pair (PKCS#8 v2 document, as `ring` makes it).
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey(public {})", self.public_key_hex())
    }
}

impl DeviceKey {
    /// Generates a new key pair. Keep [`DeviceKey::pkcs8`] secret on the device.
    pub fn generate() -> Result<Self, WireError> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| WireError::BadKey("key generation failed".into()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Reads a key pair saved with [`DeviceKey::pkcs8`].
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, WireError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| WireError::BadKey(format!("not an Ed25519 PKCS#8 document: {e}")))?;
        Ok(DeviceKey {
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The 32-byte public key, lower-case hex (64 digits): the `publicKey` of enrollment.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    /// Signs `msg`; the 64-byte signature as lower-case hex (128 digits).
    pub fn sign_hex(&self, msg: &[u8]) -> String {
        hex::encode(self.pair.sign(msg).as_ref())
    }
}

/// The five headers of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub rsu_id: Uuid,
    pub key_id: Uuid,
    pub timestamp: i64,
    pub nonce: String,
    pub signature_hex: String,
}

impl SignatureHeaders {
    /// `(name, value)` pairs ready to put on a request.
    pub fn pairs(&self) -> [(&'static str, String); 5] {
        [
            (HEADER_RSU_ID, self.rsu_id.hyphenated().to_string()),
            (HEADER_KEY_ID, self.key_id.hyphenated().to_string()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature_hex.clone()),
        ]
    }
}

/// Signs a request. `now_unix` is the device clock corrected by the last known server offset.
/// Every request, retries included, gets a fresh nonce and timestamp; the body of a retry is the
/// same bytes as before.
pub fn sign_request(
    key: &DeviceKey,
    rsu_id: Uuid,
    key_id: Uuid,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<SignatureHeaders, WireError> {
    let nonce = new_nonce()?;
    Ok(sign_request_with_nonce(
        key,
        rsu_id,
        key_id,
        method,
        path_and_query,
        body,
        now_unix,
        nonce,
    ))
}

/// [`sign_request`] with a chosen nonce (tests, replays).
#[allow(clippy::too_many_arguments)]
pub fn sign_request_with_nonce(
    key: &DeviceKey,
    rsu_id: Uuid,
    key_id: Uuid,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_unix: i64,
    nonce: String,
) -> SignatureHeaders {
    let body_hash = body_sha256_hex(body);
    let parts = SignedParts {
        method,
        path_and_query,
        rsu_id,
        key_id,
        timestamp: now_unix,
        nonce: &nonce,
        body_sha256_hex: &body_hash,
    };
    let signature_hex = key.sign_hex(&parts.string_to_sign());
    SignatureHeaders {
        rsu_id,
        key_id,
        timestamp: now_unix,
        nonce,
        signature_hex,
    }
}

/// Verifies an Ed25519 signature (hex) over `msg` with a 32-byte public key.
pub fn verify_signature(
    public_key: &[u8],
    msg: &[u8],
    signature_hex: &str,
) -> Result<(), WireError> {
    if signature_hex.len() != 128 {
        return Err(WireError::BadHex("signature"));
    }
    let sig = hex::decode(signature_hex).map_err(|_| WireError::BadHex("signature"))?;
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(msg, &sig)
        .map_err(|_| WireError::BadSignature)
}

/// Decodes a hex public key of 32 bytes.
pub fn parse_public_key_hex(s: &str) -> Result<[u8; 32], WireError> {
    let bytes = hex::decode(s).map_err(|_| WireError::BadHex("publicKey"))?;
    bytes.try_into().map_err(|_| WireError::BadHex("publicKey"))
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The body of every non-2xx response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A stable snake_case code, see docs/protocol.md.
    pub error: String,
    /// A sentence that names the field and the reason.
    pub message: String,
    /// Present on every 401: the server's clock (RFC 3339 with milliseconds), so the device can
    /// correct its offset.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::journal::opt_rfc3339_millis"
    )]
    pub server_time: Option<DateTime<Utc>>,
    /// Present on 409 `gap`: the seq the server expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Enrollment
// ---------------------------------------------------------------------------------------------

/// `POST /v1/rsu/enroll` (not signed: the one-time token authenticates it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// The one-time enrollment token the admin was given.
    pub token: String,
    /// The device's Ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// A stable hardware identifier, e.g. `MAC:00:1B:44:11:3A:B7`.
    pub device_identifier: String,
    pub app_version: String,
    /// SHA-256 of the application binary, hex.
    pub app_hash: String,
    /// Present when the device already holds an identity of this RSU (key expired while
    /// offline, an enrollment answer lost, re-enrollment of the same database): proves with the
    /// previous key that this is the same database, so its ranges stay usable and its pending
    /// entries of earlier epochs are still accepted (docs/sync.md "Recovery").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity: Option<Continuity>,
}

/// Proof that an enrolling device is the database that held `key_id`: an Ed25519 signature by
/// that key over [`continuity_message`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Continuity {
    pub rsu_id: Uuid,
    pub key_id: Uuid,
    /// The 64-byte Ed25519 signature as 128 hex digits, as in `X-Rsu-Signature`.
    pub signature: String,
}

/// The bytes a continuity proof signs: `RSU-ENROLL-CONTINUE-V1\n<rsu id>\n<key id>\n<SHA-256 of
/// the token, hex>\n<new public key hex>`.
pub fn continuity_message(
    rsu_id: Uuid,
    key_id: Uuid,
    token: &str,
    new_public_key_hex: &str,
) -> Vec<u8> {
    format!(
        "RSU-ENROLL-CONTINUE-V1\n{rsu_id}\n{key_id}\n{}\n{}",
        body_sha256_hex(token.trim().as_bytes()),
        new_public_key_hex.to_ascii_lowercase()
    )
    .into_bytes()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnrollResponse {
    pub rsu_id: Uuid,
    pub rsu_no: u32,
    /// The id of the key just registered; goes in `X-Rsu-Key-Id`.
    pub key_id: Uuid,
    #[serde(with = "rfc3339_millis")]
    pub key_expires_at: DateTime<Utc>,
    /// The new device epoch: the journal restarts at seq 1 in it.
    pub epoch: i64,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub license_number: String,
    pub validation_number_prefix: String,
    /// HMAC key for validation number tags, 64 hex digits. Secret. A new key in every epoch.
    pub validation_key: String,
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
    /// The highest sale sequence the server has seen from this RSU in any epoch: the device's
    /// next sale takes a higher one, so no validation number is issued twice.
    #[serde(default)]
    pub last_sale_seq: u64,
    /// Whether the continuity proof was accepted (the database keeps its ranges and its pending
    /// entries of earlier epochs).
    #[serde(default)]
    pub continued: bool,
}

/// `POST /v1/rsu/keys` (signed with the current key): registers the next key; both are valid
/// until the old one expires (overlap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateKeyRequest {
    pub public_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RotateKeyResponse {
    pub key_id: Uuid,
    #[serde(with = "rfc3339_millis")]
    pub key_expires_at: DateTime<Utc>,
    /// When the key that signed this request stops being accepted.
    #[serde(with = "rfc3339_millis")]
    pub previous_key_expires_at: DateTime<Utc>,
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Config pull and top-up
// ---------------------------------------------------------------------------------------------

/// `GET /v1/rsu/config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
    /// The device epoch the server considers current (the latest enrollment).
    pub epoch: i64,
    pub config: DeviceConfig,
    /// When the key that signed this request expires; the device rotates ahead of it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_rfc3339_millis"
    )]
    pub key_expires_at: Option<DateTime<Utc>>,
}

mod opt_rfc3339_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => crate::journal::rfc3339_millis::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

/// `POST /v1/rsu/allocations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopUpRequest {
    pub event_id: Uuid,
    /// How many numbers; default the event's `defaultAllocationSize`. At most 100,000.
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TopUpResponse {
    pub allocation: AllocationConfig,
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Journal push
// ---------------------------------------------------------------------------------------------

/// `POST /v1/rsu/journal`: entries of one epoch in seq order, contiguous.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    pub epoch: i64,
    pub entries: Vec<JournalEntry>,
}

/// The server's answer to one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Accepted now (the entry is new and passed every check).
    Applied,
    /// The server already holds this seq with the same hash; `firstStatus` says how it was answered.
    Duplicate,
    /// Same seq (or same entry/sale id) with different content: nothing was overwritten.
    Conflict,
    /// Stored with its payload but not applied; `code` says why. Final: do not resend.
    Rejected,
}

impl EntryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryStatus::Applied => "applied",
            EntryStatus::Duplicate => "duplicate",
            EntryStatus::Conflict => "conflict",
            EntryStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryStatus::Applied,
            EntryStatus::Duplicate,
            EntryStatus::Conflict,
            EntryStatus::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn as_str(&self) -> &'static str { match self { $($name::$v => $s),* } }
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|c| c.as_str() == s) }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

codes! {
    /// Why an entry was rejected or answered as a conflict. Stable; documented in docs/protocol.md.
    EntryCode {
        /// The payload does not match its kind's schema; the message names the field.
        BadPayload => "bad_payload",
        /// `prevHash` is not the hash of the previous seq, or `hash` is not SHA-256(prevHash ‖ canonical bytes).
        BrokenChain => "broken_chain",
        /// The event does not exist or belongs to another organization.
        UnknownEvent => "unknown_event",
        /// The event is `created` or `configured`: it never opened for sales.
        EventNotActive => "event_not_active",
        /// The event was cancelled.
        EventCancelled => "event_cancelled",
        /// The event is `reconciled` or later: no new sales (or voids).
        EventReconciled => "event_reconciled",
        /// `soldAt` is before the event's `salesStartTime`.
        SalesNotOpen => "sales_not_open",
        /// `soldAt` is after the event's `salesEndTime`.
        SalesClosed => "sales_closed",
        /// `packageId` is not a package of this event.
        UnknownPackage => "unknown_package",
        /// The package was not on sale at `soldAt` (inactive or outside its window).
        PackageNotOnSale => "package_not_on_sale",
        /// `ticketCount` is not a multiple of the package's, or differs from the number of draw numbers.
        TicketCountMismatch => "ticket_count_mismatch",
        /// `unitPrice` is not the package price in force at `soldAt`, or `totalAmount` ≠ packages × `unitPrice`.
        PriceMismatch => "price_mismatch",
        /// `currency` differs from the event's.
        CurrencyMismatch => "currency_mismatch",
        /// The validation number is malformed or does not belong to this device (prefix, rsuNo, saleSeq).
        BadValidationNumber => "bad_validation_number",
        /// The validation number's tag does not verify with this device's validation key.
        BadTag => "bad_tag",
        /// Another order of the organization already has this validation number (in canonical
        /// form), or this RSU already used this `saleSeq` (in any epoch).
        DuplicateValidationNumber => "duplicate_validation_number",
        /// A draw number lies outside every allocation of this RSU for this event (or in a released part).
        DrawNumberNotAllocated => "draw_number_not_allocated",
        /// A draw number is already sold in this event (by another order or earlier in the batch).
        DrawNumberTaken => "draw_number_taken",
        /// A void names a sale the server does not hold as an order of this RSU.
        UnknownOrder => "unknown_order",
        /// A void names an order that is already voided.
        AlreadyVoided => "already_voided",
        /// A sale or an allocation release names an allocation that is not this RSU's for the event.
        UnknownAllocation => "unknown_allocation",
        /// A sale issued a perk unit its perk allocation does not hold: the allocation is
        /// another RSU's, event's or perk's, was released, or is used up (issued > quantity).
        PerkNotAllocated => "perk_not_allocated",
        /// An `operatorId`, `supervisorId` or `closedBy` is not a seller or supervisor of the
        /// organization (a `supervisorId` must be a supervisor).
        UnknownOperator => "unknown_operator",
        /// Conflict: this seq is known with a different hash.
        SeqConflict => "seq_conflict",
        /// Conflict: this `entryId`, or the sale's `localId`, is already used by another entry.
        IdConflict => "id_conflict",
    }
}

/// Informational marks on an applied entry.
pub const FLAG_LATE: &str = "late";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EntryResult {
    pub seq: u64,
    pub entry_id: Uuid,
    pub status: EntryStatus,
    /// For `rejected` and `conflict`, and for a `duplicate` of a rejected entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<EntryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `duplicate`: how the entry was answered the first time (`applied`, `rejected` or `conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_status: Option<EntryStatus>,
    /// e.g. `late` (arrived after sales closed, sold before): applied but flagged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    pub epoch: i64,
    /// One per entry processed, in seq order.
    pub results: Vec<EntryResult>,
    /// Every seq up to this one is stored on the server (whatever its status). 0 when none.
    pub acked_through_seq: u64,
    /// The hash of the entry at `ackedThroughSeq` (64 zero digits when none).
    pub chain_head: ChainHash,
    /// False once any entry of this epoch failed the chain check.
    pub chain_verified: bool,
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Heartbeat
// ---------------------------------------------------------------------------------------------

/// `POST /v1/rsu/heartbeat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub epoch: i64,
    /// The device's latest journal seq.
    pub last_seq: u64,
    pub pending_count: u64,
    /// Age in seconds of the oldest entry not yet acknowledged, if any.
    #[serde(default)]
    pub oldest_pending_age_secs: Option<u64>,
    /// One word of [`crate::printer_status::PrinterCondition`]: `ok`, `paper_low`, `paper_out`,
    /// `cover_open`, `offline`, `error`, `unknown`.
    pub printer_status: String,
    /// How old `printer_status` is, in seconds (when the kiosk last heard from the printer);
    /// absent when the kiosk has recorded nothing yet, and from devices older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer_status_age_secs: Option<u64>,
    pub app_version: String,
    pub app_hash: String,
    /// Commands the device has carried out (ids from the config's `commands`).
    #[serde(default)]
    pub acknowledged_commands: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    #[serde(with = "rfc3339_millis")]
    pub server_time: DateTime<Utc>,
    /// The configuration version currently on the server: pull when it differs from yours.
    pub config_version: i64,
    /// What the server has of this epoch.
    pub acked_through_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_is_seven_lines_without_a_trailing_newline() {
        let parts = SignedParts {
            method: "post",
            path_and_query: "/v1/rsu/journal",
            rsu_id: Uuid::from_u128(1),
            key_id: Uuid::from_u128(2),
            timestamp: 1_751_120_700,
            nonce: "0123456789abcdef",
            body_sha256_hex: &body_sha256_hex(b""),
        };
        let text = String::from_utf8(parts.string_to_sign()).unwrap();
        assert_eq!(
            text,
            "RSU-ED25519-V1\nPOST\n/v1/rsu/journal\n00000000-0000-0000-0000-000000000001\n\
             00000000-0000-0000-0000-000000000002\n1751120700\n0123456789abcdef\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let key = DeviceKey::generate().unwrap();
        let pk = parse_public_key_hex(&key.public_key_hex()).unwrap();
        let (rsu, kid) = (Uuid::from_u128(7), Uuid::from_u128(8));
        let h = sign_request(&key, rsu, kid, "POST", PATH_JOURNAL, b"{}", 1000).unwrap();
        let msg = |body: &[u8], ts: i64| {
            SignedParts {
                method: "POST",
                path_and_query: PATH_JOURNAL,
                rsu_id: rsu,
                key_id: kid,
                timestamp: ts,
                nonce: &h.nonce,
                body_sha256_hex: &body_sha256_hex(body),
            }
            .string_to_sign()
        };
        verify_signature(&pk, &msg(b"{}", 1000), &h.signature_hex).unwrap();
        assert_eq!(
            verify_signature(&pk, &msg(b"{ }", 1000), &h.signature_hex),
            Err(WireError::BadSignature)
        );
        assert_eq!(
            verify_signature(&pk, &msg(b"{}", 1001), &h.signature_hex),
            Err(WireError::BadSignature)
        );
        let again = DeviceKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(again.public_key_hex(), key.public_key_hex());
    }

    #[test]
    fn nonces_have_a_checked_form() {
        check_nonce(&new_nonce().unwrap()).unwrap();
        assert!(check_nonce("short").is_err());
        assert!(check_nonce("has spaces in it, sixteen+").is_err());
    }

    #[test]
    fn codes_round_trip_through_their_text() {
        for c in EntryCode::ALL {
            assert_eq!(EntryCode::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
