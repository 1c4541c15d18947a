//! What every HTTP request goes through before a handler sees it: the body read up to a limit,
//! the device signature (with its nonce) or the admin bearer token resolved to a principal, and the JSON parsed with the
//! failing field named. Handlers take the extractors below instead of repeating that prelude, in
//! the way axum's `examples/error-handling` builds its `AppJson`; their rejection is [`AppError`],
//! so a refusal has the same `{ "error", "message" }` body as every other error.
//!
//! Order of the checks (docs/protocol.md §2), the same for every signed request: body size (413),
//! headers, clock window, key, signature, key state, nonce (401/403), then the JSON (400).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use rsu_core::wire;
use serde::de::DeserializeOwned;

use crate::accounts::tokens::bearer_principal;
use crate::accounts::Principal;
use crate::auth::{authenticate, precheck_headers_and_key, Device, Purpose};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

/// The largest body of a signed device request other than the journal push.
pub const DEVICE_BODY_LIMIT: usize = 64 * 1024;
/// The largest body of an admin request (the journal import has its own limit).
pub const ADMIN_BODY_LIMIT: usize = 256 * 1024;
/// The largest body of a close-out request (transition, resolve, exclude, include).
pub const CLOSEOUT_BODY_LIMIT: usize = 64 * 1024;

/// Reads the body up to `limit` bytes; a larger body is refused with 413 before it is parsed.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> AppResult<Vec<u8>> {
    let too_large = || {
        AppError::of(
            ErrorCode::BodyTooLarge,
            format!("the request body is larger than {limit} bytes: send smaller batches"),
        )
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => {
            let text = e.to_string();
            if text.contains("length limit") {
                Err(too_large())
            } else {
                Err(AppError::of(
                    ErrorCode::BadBody,
                    "the request body could not be read completely",
                ))
            }
        }
    }
}

/// Parses JSON, naming the field that failed (`entries[2].seq: invalid type: …`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    if bytes.is_empty() {
        return Err(AppError::of(
            ErrorCode::MalformedJson,
            "the request body is empty: send a JSON object",
        ));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[' || b.is_ascii_digit() || *b == b'"' || *b == b'-') {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "the request body has the wrong shape: it must be a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => AppError::of(
                ErrorCode::MalformedJson,
                format!("the request body is not valid JSON: {inner}"),
            ),
            Category::Data => AppError::of(
                ErrorCode::InvalidField,
                if path == "." {
                    format!("the request body has the wrong shape: {inner}")
                } else {
                    format!("field {path}: {inner}")
                },
            ),
        }
    })
}

// ----------------------------------------------------------------------------------------------
// Device requests
// ----------------------------------------------------------------------------------------------

/// How one kind of signed request is read.
struct Policy {
    limit: usize,
    purpose: Purpose,
    /// Check headers, clock and key before reading the body (the journal push: up to 4 MiB are
    /// read and hashed only for a request whose headers and key check out).
    precheck: bool,
}

const DEVICE: Policy = Policy {
    limit: DEVICE_BODY_LIMIT,
    purpose: Purpose::Other,
    precheck: false,
};

const PUSH: Policy = Policy {
    limit: wire::MAX_BODY_BYTES,
    purpose: Purpose::Journal,
    precheck: true,
};

async fn signed_body(req: Request, st: &AppState, p: &Policy) -> AppResult<(Device, Vec<u8>)> {
    let (parts, body) = req.into_parts();
    if p.precheck {
        precheck_headers_and_key(&st.pool, &parts.headers).await?;
    }
    let bytes = read_body(&parts.headers, body, p.limit).await?;
    let dev = authenticate(
        &st.pool,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &bytes,
        p.purpose,
    )
    .await?;
    Ok((dev, bytes))
}

/// A signed device request whose body is not read as JSON (`GET /v1/rsu/config`): the body (empty
/// or not) is still covered by the signature. The nonce is recorded.
pub struct Signed(pub Device);

impl FromRequest<AppState> for Signed {
    type Rejection = AppError;

    async fn from_request(req: Request, st: &AppState) -> AppResult<Self> {
        let (dev, _) = signed_body(req, st, &DEVICE).await?;
        Ok(Signed(dev))
    }
}

/// A signed device request with a JSON body of at most [`DEVICE_BODY_LIMIT`] bytes: the
/// authenticated device and the parsed body. The nonce is recorded.
pub struct SignedJson<T>(pub Device, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SignedJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, st: &AppState) -> AppResult<Self> {
        let (dev, bytes) = signed_body(req, st, &DEVICE).await?;
        Ok(SignedJson(dev, parse_json(&bytes)?))
    }
}

/// A signed journal push: headers and key checked before the body (up to
/// [`wire::MAX_BODY_BYTES`]) is read; an expired key is accepted (the handler keeps only entries
/// made before it expired); the nonce is left for the push's own transaction to record.
pub struct SignedPush<T>(pub Device, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SignedPush<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, st: &AppState) -> AppResult<Self> {
        let (dev, bytes) = signed_body(req, st, &PUSH).await?;
        Ok(SignedPush(dev, parse_json(&bytes)?))
    }
}

// ----------------------------------------------------------------------------------------------
// Admin requests
// ----------------------------------------------------------------------------------------------

/// An admin request whose bearer token checked out (for handlers without a JSON body): the
/// [`Principal`] behind it, a user API token or the deprecated shared token
/// ([`crate::accounts::tokens::bearer_principal`]). The handler then asks it
/// [`Principal::require`] for the permission the route needs in the organization it touches.
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> AppResult<Self> {
        Ok(Admin(bearer_principal(st, &parts.headers).await?))
    }
}

/// An admin request with a JSON body of at most `LIMIT` bytes: the token is checked first, then
/// the body is read and parsed.
pub struct AdminJson<T, const LIMIT: usize = ADMIN_BODY_LIMIT>(pub Principal, pub T);

impl<T: DeserializeOwned, const LIMIT: usize> FromRequest<AppState> for AdminJson<T, LIMIT> {
    type Rejection = AppError;

    async fn from_request(req: Request, st: &AppState) -> AppResult<Self> {
        let (parts, body) = req.into_parts();
        let principal = bearer_principal(st, &parts.headers).await?;
        let bytes = read_body(&parts.headers, body, LIMIT).await?;
        Ok(AdminJson(principal, parse_json(&bytes)?))
    }
}

/// An admin request's body as bytes, at most `LIMIT` of them (the journal import).
pub struct AdminBytes<const LIMIT: usize>(pub Principal, pub Vec<u8>);

impl<const LIMIT: usize> FromRequest<AppState> for AdminBytes<LIMIT> {
    type Rejection = AppError;

    async fn from_request(req: Request, st: &AppState) -> AppResult<Self> {
        let (parts, body) = req.into_parts();
        let principal = bearer_principal(st, &parts.headers).await?;
        Ok(AdminBytes(
            principal,
            read_body(&parts.headers, body, LIMIT).await?,
        ))
    }
}
