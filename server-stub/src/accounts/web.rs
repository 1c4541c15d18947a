//! The sign-in and sign-out pages (docs/server.md "Accounts and roles"):
//! - `GET /login[?next=/path]`: the form (labelled `email` and `password`, button `sign-in`);
//! - `POST /login`: checks the password ([`super::password::sign_in`]), starts a session, sets
//!   the `rsu_session` cookie and answers 303 to `next` when it is a path on this server, else to
//!   `/dashboard`. Every refusal shows the same message; sign-in attempts are rate limited per
//!   client address and per email (429);
//! - `POST /logout` (a [`CsrfForm`]): ends the session, clears the cookie, 303 to `/login`.
//!
//! [`Layout`] is what `templates/base.html` needs from every page.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use sqlx::PgPool;

use super::password::{self, SignIn};
use super::session::{self, CsrfForm, WebSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

/// Where a sign-in goes without a usable `next`.
pub const HOME: &str = "/dashboard";
/// The one message of every refused sign-in.
pub const REFUSED: &str = "The email or password is wrong.";
/// Sign-in attempts per client address within [`RATE_WINDOW_SECS`].
pub const MAX_ATTEMPTS_PER_CLIENT: i64 = 30;
/// Sign-in attempts per email within [`RATE_WINDOW_SECS`].
pub const MAX_ATTEMPTS_PER_EMAIL: i64 = 10;
/// The rate limits' window.
pub const RATE_WINDOW_SECS: i64 = 300;
const FORM_LIMIT: usize = 16 * 1024;

/// What the base layout shows about the session: who is signed in (then the sign-out form with
/// the session's CSRF token), or nobody.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub signed_in_as: Option<String>,
    pub csrf: String,
}

impl Layout {
    /// The layout of a page seen by a signed-in user.
    pub fn for_session(s: &WebSession) -> Layout {
        Layout {
            signed_in_as: Some(s.principal.display_name.clone()),
            csrf: s.csrf.clone(),
        }
    }

    /// The layout of a page seen by nobody in particular (the sign-in page).
    pub fn anonymous() -> Layout {
        Layout::default()
    }
}

/// Renders a template as an HTML page that is never cached and never framed.
pub fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        Err(e) => AppError::internal("rendering a page", e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    message: Option<&'a str>,
    next: &'a str,
    email: &'a str,
    max_failures: i32,
    window_minutes: i64,
    lockout_minutes: i64,
}

fn login_page(status: StatusCode, message: Option<&str>, next: &str, email: &str) -> Response {
    page(
        status,
        &LoginPage {
            layout: Layout::anonymous(),
            message,
            next,
            email,
            max_failures: password::MAX_FAILURES,
            window_minutes: password::FAILURE_WINDOW.num_minutes(),
            lockout_minutes: password::LOCKOUT.num_minutes(),
        },
    )
}

/// `next` when it is a path on this server (`/…`, not `//host` or `/\host`), else [`HOME`]:
/// a sign-in link cannot send the user elsewhere.
pub fn local_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n
        }
        _ => HOME,
    }
}

/// The client's address: the last `X-Forwarded-For` hop when the peer is a proxy on this host,
/// else the peer; `unknown` when the server runs without connection info (tests).
pub fn client_address(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let forwarded = || {
        headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match peer {
        Some(p) if p.ip().is_loopback() => forwarded().unwrap_or_else(|| p.ip().to_string()),
        Some(p) => p.ip().to_string(),
        None => "unknown".into(),
    }
}

/// Whether a sent `Origin` names another site than the one asked (a cross-site form post). The
/// site asked is the `Host`, or behind a proxy that rewrites it, its `X-Forwarded-Host`.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    let asked: Vec<&str> = [header::HOST.as_str(), "x-forwarded-host"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .collect();
    !asked.is_empty()
        && !asked
            .iter()
            .any(|h| origin_host.eq_ignore_ascii_case(h.trim()))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(Query(q): Query<NextQuery>) -> Response {
    login_page(StatusCode::OK, None, local_next(q.next.as_deref()), "")
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Records an attempt and says whether the client or the email is over its limit.
async fn over_limit(pool: &PgPool, email: &str, client: &str) -> AppResult<bool> {
    let (by_client, by_email): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE client = $1), count(*) FILTER (WHERE email = $2)
           FROM login_attempts
          WHERE attempted_at > NOW() - make_interval(secs => $3)
            AND (client = $1 OR email = $2)",
    )
    .bind(client)
    .bind(email)
    .bind(RATE_WINDOW_SECS as f64)
    .fetch_one(pool)
    .await?;
    Ok(by_client >= MAX_ATTEMPTS_PER_CLIENT || by_email >= MAX_ATTEMPTS_PER_EMAIL)
}

async fn record_attempt(
    pool: &PgPool,
    email: &str,
    client: &str,
    outcome: &SignIn,
) -> AppResult<()> {
    let user = match outcome {
        SignIn::Ok(u) => Some(*u),
        SignIn::Refused => None,
    };
    sqlx::query(
        "INSERT INTO login_attempts (email, client, user_id, succeeded) VALUES ($1, $2, $3, $4)",
    )
    .bind(email)
    .bind(client)
    .bind(user)
    .bind(user.is_some())
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM login_attempts WHERE attempted_at < NOW() - INTERVAL '1 day'")
        .execute(pool)
        .await?;
    Ok(())
}

async fn login(State(st): State<AppState>, req: Request) -> Response {
    match try_login(&st, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn try_login(st: &AppState, req: Request) -> AppResult<Response> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers = req.headers().clone();
    let client = client_address(&headers, peer);
    if foreign_origin(&headers) {
        tracing::warn!(%client, "sign-in form posted from another site: refused");
        return Err(AppError::of(
            ErrorCode::CsrfRejected,
            "the sign-in form was sent from another site: open /login on this server",
        ));
    }
    let bytes = crate::http::read_body(&headers, req.into_body(), FORM_LIMIT).await?;
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        AppError::of(
            ErrorCode::InvalidField,
            format!("the sign-in form could not be read: {e}"),
        )
    })?;
    let next = local_next(form.next.as_deref()).to_string();
    let email = form.email.trim().to_lowercase();
    if over_limit(&st.pool, &email, &client).await? {
        tracing::warn!(%client, %email, "sign-in rate limit reached");
        return Ok(login_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts. Wait a few minutes, then try again."),
            &next,
            &email,
        ));
    }
    let outcome = password::sign_in(&st.pool, &email, &form.password, &client).await?;
    record_attempt(&st.pool, &email, &client, &outcome).await?;
    let SignIn::Ok(user) = outcome else {
        tracing::info!(%client, %email, "sign-in refused");
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            Some(REFUSED),
            &next,
            &email,
        ));
    };
    let new = session::create(&st.pool, user).await?;
    tracing::info!(%client, %email, "signed in");
    let jar = CookieJar::new().add(session::cookie(&new, session::over_tls(&headers)));
    Ok((jar, Redirect::to(&next)).into_response())
}

/// The form of `POST /logout`: only the CSRF token, which [`CsrfForm`] checks.
#[derive(Deserialize)]
struct LogoutForm {}

async fn logout(
    State(st): State<AppState>,
    CsrfForm(s, LogoutForm {}): CsrfForm<LogoutForm>,
) -> AppResult<Response> {
    session::revoke(&st.pool, &s).await?;
    let jar = CookieJar::new().add(session::removal_cookie());
    Ok((jar, Redirect::to("/login")).into_response())
}

/// `GET /login`, `POST /login`, `POST /logout`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}
