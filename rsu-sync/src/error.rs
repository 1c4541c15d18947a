//! The engine's error type. Each variant says what happened and what will happen next (the
//! daemon retries everything that can succeed later) or what a person must do.

use chrono::{DateTime, Utc};
use rsu_core::wire::ErrorCode;
use rsu_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Connection refused, reset, DNS, TLS, or a body cut short: the request's fate is unknown.
    #[error(
        "cannot reach the server at {url}: {detail}. Sales stay in the local journal; retrying"
    )]
    Transport { url: String, detail: String },
    /// No complete answer within the request timeout: the request's fate is unknown.
    #[error("the server at {url} did not answer within {secs} s; retrying")]
    Timeout { url: String, secs: u64 },
    /// 5xx: the request's fate is unknown.
    #[error("the server failed ({status} {code}): {message}; retrying")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// 429.
    #[error("the server is busy (429 {code}); retrying later")]
    RateLimited { code: String },
    /// 503 or 429 with `Retry-After`: the server says when to come back (admission control
    /// during the pre-draw crunch). The daemon waits exactly that long instead of backing off.
    #[error("the server is busy ({code}); trying again in {retry_after_secs} s")]
    Busy { code: String, retry_after_secs: u64 },
    /// 401: bad or stale signature, unknown or revoked key.
    #[error("the server refused the device's signature ({code}): {message}")]
    Unauthorized {
        code: String,
        message: String,
        server_time: Option<DateTime<Utc>>,
    },
    /// 409 `gap`: the server holds less of this epoch than the device thought.
    #[error("the server expects seq {expected} next; resending from there")]
    Gap { expected: u64 },
    /// 413: the batch is too large.
    #[error("the server refused the batch as too large; sending smaller batches")]
    TooLarge,
    /// Any other 4xx: the request itself is wrong; retrying the same bytes will not help.
    #[error("the server refused the request ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// A 2xx answer that is not what the protocol says.
    #[error("the server's answer could not be understood: {0}")]
    BadAnswer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the device key: {0}")]
    Key(String),
    #[error("{0}")]
    Config(String),
}

impl SyncError {
    /// A stable code for `status --json` and the store's `last_error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Transport { .. } => "transport",
            SyncError::Timeout { .. } => "timeout",
            SyncError::Server { .. } => "server_error",
            SyncError::RateLimited { .. } => "rate_limited",
            SyncError::Busy { .. } => "busy",
            SyncError::Unauthorized { .. } => "unauthorized",
            SyncError::Gap { .. } => "gap",
            SyncError::TooLarge => "too_large",
            SyncError::Refused { .. } => "refused",
            SyncError::BadAnswer(_) => "bad_answer",
            SyncError::Store(_) => "local_store",
            SyncError::Key(_) => "key",
            SyncError::Config(_) => "config",
        }
    }

    /// How long the server asked the device to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SyncError::Busy {
                retry_after_secs, ..
            } => Some(std::time::Duration::from_secs(*retry_after_secs)),
            _ => None,
        }
    }

    /// True when the same request may succeed later (the daemon backs off and retries).
    /// False errors still get retried by the daemon, but need a person to fix something first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Transport { .. }
                | SyncError::Timeout { .. }
                | SyncError::Server { .. }
                | SyncError::RateLimited { .. }
                | SyncError::Busy { .. }
                | SyncError::Gap { .. }
                | SyncError::TooLarge
                | SyncError::BadAnswer(_)
        ) || matches!(self, SyncError::Unauthorized { code, .. }
            if ErrorCode::ClockSkew.is(code) || ErrorCode::NonceReused.is(code))
    }
}
