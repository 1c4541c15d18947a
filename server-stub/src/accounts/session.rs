//! Dashboard sessions: the `rsu_session` cookie, its idle and absolute timeouts, and the CSRF
//! token every dashboard form carries (docs/server.md "Accounts and roles").
//!
//! [`WebSession`] is the extractor of every dashboard page: a request without a live session is
//! sent to `/login?next=…` (a page) or refused with 401 (anything else). [`CsrfForm`] is the
//! extractor of every dashboard POST: the session, then the form, whose `csrf` field must equal
//! the session's token.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{load_principal, Principal, Via};
use crate::crypto::{random_bytes, sha256};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

/// The cookie's name.
pub const COOKIE: &str = "rsu_session";
/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session ends this long after sign-in however busy it is.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// The largest dashboard form body.
const FORM_LIMIT: usize = 64 * 1024;

/// A session just created: the cookie value to set and the CSRF token of its forms.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// Starts a session for `user_id` (after the password checked out).
pub async fn create(pool: &PgPool, user_id: Uuid) -> AppResult<NewSession> {
    let token = hex::encode(random_bytes::<32>()?);
    let csrf = hex::encode(random_bytes::<32>()?);
    let expires_at = Utc::now() + ABSOLUTE_TIMEOUT;
    sqlx::query(
        "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&csrf)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(NewSession {
        token,
        csrf,
        expires_at,
    })
}

/// The live session of a cookie value, touching its idle clock; `None` when unknown, signed
/// out, idle too long, past its absolute expiry, or its user is inactive.
pub async fn resolve(pool: &PgPool, token: &str) -> AppResult<Option<WebSession>> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE admin_sessions SET last_seen_at = NOW()
          WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > NOW()
            AND last_seen_at > NOW() - make_interval(secs => $2)
         RETURNING user_id, csrf_token",
    )
    .bind(token_hash(token))
    .bind(IDLE_TIMEOUT.num_seconds() as f64)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, csrf)) = row else {
        return Ok(None);
    };
    let Some(principal) = load_principal(pool, user_id, Via::Session).await? else {
        return Ok(None);
    };
    Ok(Some(WebSession {
        principal,
        csrf,
        token_hash: token_hash(token),
    }))
}

/// Ends the session (sign-out). Ending an ended session is not an error.
pub async fn revoke(pool: &PgPool, session: &WebSession) -> AppResult<()> {
    sqlx::query(
        "UPDATE admin_sessions SET revoked_at = NOW() WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&session.token_hash)
    .execute(pool)
    .await?;
    Ok(())
}

/// Was the request made over TLS (directly or, as the proxy says, in front of us)? The session
/// cookie is then `Secure`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The cookie that carries a session: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over
/// TLS. It has no expiry of its own (it ends with the browser); the server enforces the idle and
/// absolute timeouts.
pub fn cookie(new: &NewSession, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::new(COOKIE, new.token.clone());
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_path("/");
    c.set_secure(secure);
    c
}

/// The cookie that clears the session cookie (sign-out).
pub fn removal_cookie() -> Cookie<'static> {
    let mut c = Cookie::new(COOKIE, "");
    c.set_path("/");
    c.make_removal();
    c
}

/// A signed-in dashboard user.
#[derive(Clone, Debug)]
pub struct WebSession {
    pub principal: Principal,
    /// The CSRF token to put in every form this page renders (`<input type=hidden name=csrf>`).
    pub csrf: String,
    token_hash: Vec<u8>,
}

/// Why a dashboard request has no session.
#[derive(Debug)]
pub enum NoSession {
    /// A page: go and sign in, then come back.
    SignIn {
        next: String,
    },
    /// Not a page (a POST, a fetch): 401.
    Refused,
    Error(AppError),
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn { next } => {
                let next = form_urlencoded_component(&next);
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            NoSession::Refused => (
                StatusCode::UNAUTHORIZED,
                "Your session has ended. Sign in again at /login.",
            )
                .into_response(),
            NoSession::Error(e) => e.into_response(),
        }
    }
}

/// Percent-encodes a path for a query value (only characters safe in a path are kept).
fn form_urlencoded_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, NoSession> {
        let jar = CookieJar::from_headers(&parts.headers);
        let live = match jar.get(COOKIE) {
            Some(c) => resolve(&st.pool, c.value())
                .await
                .map_err(NoSession::Error)?,
            None => None,
        };
        match live {
            Some(s) => Ok(s),
            None if parts.method == Method::GET => Err(NoSession::SignIn {
                next: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "/".into()),
            }),
            None => Err(NoSession::Refused),
        }
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Compares two tokens in time independent of where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A dashboard form post: a live session, then a form whose `csrf` field is the session's
/// token. A missing or wrong token is refused with 403 `csrf_rejected` and changes nothing.
pub struct CsrfForm<T>(pub WebSession, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = NoSession;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, NoSession> {
        let (mut parts, body) = req.into_parts();
        let session = WebSession::from_request_parts(&mut parts, st).await?;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(NoSession::Error(AppError::of(
                ErrorCode::InvalidField,
                "a dashboard form is sent as application/x-www-form-urlencoded",
            )));
        }
        let bytes = crate::http::read_body(&parts.headers, body, FORM_LIMIT)
            .await
            .map_err(NoSession::Error)?;
        let field: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            NoSession::Error(AppError::of(
                ErrorCode::InvalidField,
                format!("the form could not be read: {e}"),
            ))
        })?;
        if !same_token(&field.csrf, &session.csrf) {
            tracing::warn!(
                user = %session.principal.display_name,
                "dashboard form refused: missing or wrong CSRF token"
            );
            return Err(NoSession::Error(AppError::of(
                ErrorCode::CsrfRejected,
                "the form's security token is missing or out of date: reload the page and try again",
            )));
        }
        let value: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            NoSession::Error(AppError::of(
                ErrorCode::InvalidField,
                format!("the form could not be read: {e}"),
            ))
        })?;
        Ok(CsrfForm(session, value))
    }
}
