//! The device API, `/v1/rsu/*` (docs/protocol.md): one documentation-only function per route.
//! The handlers are in `crate::routes::device`; the types are rsu-core's wire types.

#![allow(dead_code)]

use rsu_core::wire::{
    ConfigResponse, EnrollRequest, EnrollResponse, ErrorBody, HeartbeatRequest, HeartbeatResponse,
    PushRequest, PushResponse, RotateKeyRequest, RotateKeyResponse, TopUpRequest, TopUpResponse,
};
use utoipa::IntoParams;
use uuid::Uuid;

/// The headers of a signed device request besides the signature itself (docs/protocol.md §2);
/// `X-Rsu-Signature` is the `deviceSignature` security scheme.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Signed {
    /// The RSU id from enrollment.
    #[param(rename = "X-Rsu-Id")]
    x_rsu_id: Uuid,
    /// The id of the key that signs (from enrollment or rotation).
    #[param(rename = "X-Rsu-Key-Id")]
    x_rsu_key_id: Uuid,
    /// Unix time in seconds, decimal: the device clock corrected by the last known server offset.
    /// More than 300 s from the server's clock is refused with `clock_skew`.
    #[param(rename = "X-Rsu-Timestamp")]
    x_rsu_timestamp: i64,
    /// 16 to 64 characters of `A-Z a-z 0-9 - _`, new for every request.
    #[param(rename = "X-Rsu-Nonce", pattern = "^[A-Za-z0-9_-]{16,64}$")]
    x_rsu_nonce: String,
}

/// Enroll a device with a one-time token.
///
/// Registers the device's Ed25519 key and starts a new epoch (docs/protocol.md §3). Not signed:
/// the one-time token authenticates it. With `continuity`, the previous key proves this is the
/// same database, so its ranges stay usable.
#[utoipa::path(
    post,
    path = "/v1/rsu/enroll",
    tag = "device",
    operation_id = "enroll",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled: the key id, the epoch and the validation key", body = EnrollResponse),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 401, description = "The token is unknown (`bad_token`), used (`token_used`) or expired (`token_expired`)", body = ErrorBody),
        (status = 403, description = "The RSU is disabled (`rsu_disabled`), or the previous key was revoked (`key_revoked`)", body = ErrorBody),
        (status = 409, description = "The continuity proof names another RSU (`wrong_rsu`), or the public key is in use", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn enroll() {}

/// Pull the device's configuration.
///
/// Organization, RSU, events with packages and prizes, allocations, operators and commands, as of
/// the organization's configuration version (docs/protocol.md §6).
#[utoipa::path(
    get,
    path = "/v1/rsu/config",
    tag = "device",
    operation_id = "pullConfig",
    params(Signed),
    security(("deviceSignature" = [])),
    responses(
        (status = 200, description = "The configuration", body = ConfigResponse),
        (status = 401, description = "The signature was refused (docs/protocol.md §2); `serverTime` is the server's clock", body = ErrorBody),
        (status = 403, description = "The RSU is disabled, lost or decommissioned (`rsu_disabled`)", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn config() {}

/// Top up the device's draw numbers of an event.
///
/// Carves the next free range of the event's RSU range, capped per RSU (docs/protocol.md §7).
#[utoipa::path(
    post,
    path = "/v1/rsu/allocations",
    tag = "device",
    operation_id = "topUp",
    params(Signed),
    security(("deviceSignature" = [])),
    request_body = TopUpRequest,
    responses(
        (status = 200, description = "The new allocation", body = TopUpResponse),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 401, description = "The signature was refused (docs/protocol.md §2)", body = ErrorBody),
        (status = 403, description = "The RSU is disabled (`rsu_disabled`)", body = ErrorBody),
        (status = 404, description = "No such event of the organization (`unknown_event`)", body = ErrorBody),
        (status = 409, description = "The event does not allocate now, its range is exhausted, or the RSU reached its cap", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn allocations() {}

/// Push journal entries.
///
/// Entries of one epoch in seq order, contiguous, at most 1000 and 4 MiB. Each entry is answered
/// `applied`, `duplicate`, `conflict` or `rejected` (docs/protocol.md §5); the whole batch is one
/// transaction. Headers, clock and key are checked before the body is read.
#[utoipa::path(
    post,
    path = "/v1/rsu/journal",
    tag = "device",
    operation_id = "pushJournal",
    params(Signed),
    security(("deviceSignature" = [])),
    request_body = PushRequest,
    responses(
        (status = 200, description = "One result per entry, and how far the server holds the chain", body = PushResponse,
            headers(("x-rsu-batch-max" = u32, description = "The most entries to send in the next push (50-1000): smaller while other devices' pushes queue"))),
        (status = 400, description = "The body is not JSON, a field is invalid, or the batch is not contiguous", body = ErrorBody),
        (status = 401, description = "The signature was refused (docs/protocol.md §2), or the key expired before these entries", body = ErrorBody),
        (status = 403, description = "The RSU is disabled (`rsu_disabled`)", body = ErrorBody),
        (status = 409, description = "The batch does not start where the server's chain ends (`gap`, with `expectedSeq`), or the epoch is unknown", body = ErrorBody),
        (status = 413, description = "The body is larger than 4 MiB", body = ErrorBody),
        (status = 503, description = "`server_busy`: the push queue is full or this push waited 5 s for a turn; nothing was applied, send it again after `Retry-After` seconds", body = ErrorBody,
            headers(
                ("retry-after" = u64, description = "Seconds to wait before sending the same batch again (1-30)"),
                ("x-rsu-batch-max" = u32, description = "The most entries to send in the next push"),
            )),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn journal() {}

/// Report the device's state.
///
/// Queue, printer and app version; acknowledges carried-out commands; answers with the
/// configuration version and how far the journal is acknowledged (docs/protocol.md §8).
#[utoipa::path(
    post,
    path = "/v1/rsu/heartbeat",
    tag = "device",
    operation_id = "heartbeat",
    params(Signed),
    security(("deviceSignature" = [])),
    request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "The configuration version and the acknowledged seq", body = HeartbeatResponse),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 401, description = "The signature was refused (docs/protocol.md §2)", body = ErrorBody),
        (status = 403, description = "The RSU is disabled (`rsu_disabled`)", body = ErrorBody),
        (status = 409, description = "The epoch was never enrolled (`unknown_epoch`)", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn heartbeat() {}

/// Rotate the device's key.
///
/// Registers a successor key, signed with the current one; both are valid until the current one
/// expires, and the successor becomes the key once a request is signed with it
/// (docs/protocol.md §3).
#[utoipa::path(
    post,
    path = "/v1/rsu/keys",
    tag = "device",
    operation_id = "rotateKey",
    params(Signed),
    security(("deviceSignature" = [])),
    request_body = RotateKeyRequest,
    responses(
        (status = 200, description = "The successor key's id and expiry", body = RotateKeyResponse),
        (status = 400, description = "The body is not JSON or the public key is not 64 hex digits", body = ErrorBody),
        (status = 401, description = "The signature was refused (docs/protocol.md §2)", body = ErrorBody),
        (status = 403, description = "The RSU is disabled (`rsu_disabled`)", body = ErrorBody),
        (status = 409, description = "The key was already succeeded, or the public key is in use", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn keys() {}
