//! The one error type of the HTTP API. It becomes `{ "error": code, "message": … }` with the
//! right status; internal details are never sent: they travel in the response's extensions to
//! the one layer that logs them (`routes::log_internal_errors`), or are logged by the CLI.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use rsu_core::wire::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// An [`ErrorCode`] as it travels (`"clock_skew"`); [`AppError::error_code`] gives it typed.
    pub code: &'static str,
    pub message: String,
    pub expected_seq: Option<u64>,
    /// What went wrong inside (an internal error, an unavailable database): for the log only.
    pub internal: Option<Box<Internal>>,
    /// Seconds for the `Retry-After` header (a busy server: come back then).
    pub retry_after: Option<u64>,
}

/// The details of an internal failure, logged and never sent to the client.
#[derive(Clone, Debug)]
pub struct Internal {
    /// `true`: an error (a bug or a broken invariant); `false`: a warning (the database is
    /// unavailable, the request can be retried).
    pub is_error: bool,
    pub context: String,
    pub detail: String,
}

impl Internal {
    pub fn log(&self) {
        if self.is_error {
            tracing::error!(context = %self.context, error = %self.detail, "internal error");
        } else {
            tracing::warn!(error = %self.detail, "{}", self.context);
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error with its code's own status ([`ErrorCode::status`]).
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, code, message)
    }

    /// An error with a status given by the context (a few codes are sent with another status
    /// than their own, see [`ErrorCode::status`]).
    ///
    /// `code` is an [`ErrorCode`]; a `&'static str` is still accepted and must be a code of the
    /// list (checked in debug builds, so every test catches a misspelt one).
    pub fn new(
        status: StatusCode,
        code: impl Into<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        let code = code.into();
        debug_assert!(
            ErrorCode::from_wire(code).is_some(),
            "{code:?} is not an rsu_core::wire::ErrorCode"
        );
        AppError {
            status,
            code,
            message: message.into(),
            expected_seq: None,
            internal: None,
            retry_after: None,
        }
    }

    /// Sends `Retry-After: secs` with the answer.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn bad_request(code: impl Into<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: impl Into<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: impl Into<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(code: impl Into<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: impl Into<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// The code, typed.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_wire(self.code)
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        AppError {
            internal: Some(Box::new(Internal {
                is_error: true,
                context: context.to_string(),
                detail: err.to_string(),
            })),
            ..Self::of(
                ErrorCode::Internal,
                "the server failed to handle this request; it was not applied, retry it later",
            )
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for AppError {}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => AppError {
                internal: Some(Box::new(Internal {
                    is_error: false,
                    context: "database unavailable".into(),
                    detail: e.to_string(),
                })),
                ..AppError::of(
                    ErrorCode::DatabaseUnavailable,
                    "the database is unavailable; nothing was applied, retry later",
                )
            },
            sqlx::Error::Database(db) => match (db.code().as_deref(), db.constraint()) {
                // Constraint violations that an admin request can cause: answered as 409 or 400
                // with a sentence in the client's terms, never as a 500 and never naming the
                // database rule.
                (Some("23505"), Some(c)) => {
                    AppError::of(ErrorCode::AlreadyExists, constraint_text(c, db.table()))
                }
                (Some("23P01"), Some(c)) => {
                    AppError::of(ErrorCode::Overlaps, constraint_text(c, db.table()))
                }
                (Some("23514"), Some(c)) => {
                    AppError::of(ErrorCode::CheckFailed, constraint_text(c, db.table()))
                }
                (Some("23503"), Some(c)) => {
                    AppError::of(ErrorCode::UnknownReference, constraint_text(c, db.table()))
                }
                // Text PostgreSQL cannot store: a NUL character (U+0000) in a string of the
                // request (found by the contract test, scripts/contract-test.sh).
                (Some("22021") | Some("22P05"), _) => AppError::of(
                    ErrorCode::InvalidField,
                    "a text field contains the character U+0000 (NUL), which cannot be stored: remove it",
                ),
                // A pooler in transaction mode handed this connection's prepared statements to
                // another client (docs/scaling.md "PgBouncer"): nothing was applied; say why in
                // the log, answer as an unavailable database so that devices retry.
                (Some("42P05") | Some("26000"), _) => {
                    tracing::error!("{}", crate::db::POOLER_HINT);
                    AppError {
                        internal: Some(Box::new(Internal {
                            is_error: true,
                            context: "database behind a transaction-mode pooler".into(),
                            detail: e.to_string(),
                        })),
                        ..AppError::of(
                            ErrorCode::DatabaseUnavailable,
                            "the database is unavailable; nothing was applied, retry later",
                        )
                    }
                }
                _ => AppError::internal("database", &e),
            },
            _ => AppError::internal("database", &e),
        }
    }
}

/// `venue_id` → `venueId`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// A sentence for a violated constraint, in the terms of the request (field names in camelCase),
/// never the constraint's own name.
fn constraint_text(c: &str, table: Option<&str>) -> String {
    match c {
        "rsu_allocations_no_overlap" => {
            return "the allocation overlaps another allocation of this event: choose a free range"
                .into()
        }
        "rsus_organization_id_rsu_no_key" => {
            return "rsuNo is already used by another RSU of this organization".into()
        }
        "rsus_device_identifier_key" => {
            return "deviceIdentifier is already enrolled as another RSU".into()
        }
        "rsu_keys_public_key_key" => return "publicKey is already registered".into(),
        "events_organization_id_event_identifier_key" => {
            return "eventIdentifier is already used by another event of this organization".into()
        }
        _ => {}
    }
    // PostgreSQL's default names are <table>_<column>_fkey / _key / _check.
    let column = table
        .and_then(|t| c.strip_prefix(t))
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| {
            ["_fkey", "_key", "_check"]
                .iter()
                .find_map(|suffix| rest.strip_suffix(suffix))
        })
        .filter(|col| !col.is_empty() && col.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        .map(camel);
    match (c.rsplit('_').next(), column) {
        (Some("fkey"), Some(f)) => {
            format!("field {f} names a record that does not exist: check the id")
        }
        (Some("fkey"), None) => "an id in the request names a record that does not exist".into(),
        (Some("key"), Some(f)) => format!("field {f}: the value is already used; choose another"),
        (Some("check"), Some(f)) => format!("field {f}: the value is outside what is allowed"),
        _ => "the request conflicts with what the server holds or has a value outside what is allowed: check its fields".into(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
            server_time: (self.status == StatusCode::UNAUTHORIZED).then(Utc::now),
            expected_seq: self.expected_seq,
        };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if let Some(i) = self.internal {
            res.extensions_mut().insert(*i);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_internal_error_sends_no_detail_and_carries_it_to_the_logging_layer() {
        let res = AppError::internal("ctx", "secret detail").into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let i = res
            .extensions()
            .get::<Internal>()
            .expect("details for the log");
        assert_eq!((i.is_error, i.context.as_str()), (true, "ctx"));
        assert_eq!(i.detail, "secret detail");
        let body = axum::body::to_bytes(res.into_body(), 4096)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(r#""error":"internal""#), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn an_ordinary_error_carries_nothing_to_log_and_takes_its_codes_status() {
        let e = AppError::of(ErrorCode::ClockSkew, "m");
        assert_eq!((e.status, e.code), (StatusCode::UNAUTHORIZED, "clock_skew"));
        assert_eq!(e.error_code(), Some(ErrorCode::ClockSkew));
        let res = e.into_response();
        assert!(res.extensions().get::<Internal>().is_none());
        let e = AppError::of(ErrorCode::BodyTooLarge, "m");
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
