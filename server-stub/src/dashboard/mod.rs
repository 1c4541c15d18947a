//! The raffle manager's web dashboard (issue 13, docs/dashboard.md): server-rendered HTML pages
//! under `/dashboard` that work without JavaScript (one small script, served here, refreshes the
//! live pages). Every page takes a [`WebSession`] (signed out: sent to `/login`), every form
//! post a [`CsrfForm`]; each checks the principal's permission in the event's organization.
//!
//! The pages read what the server already keeps: the per-minute sales summary of migration
//! 0011 (never the tickets), the epochs' heartbeat columns, the allocation counters; the
//! reconciliation report and the draw gate are `report`'s and `closeout`'s, the transitions
//! `admin::events`', the draw `draw`'s and the claims `claims`'.
//!
//! `pages` renders, `actions` carries out the forms, `data` holds the queries, `chart` draws
//! the sales-per-minute SVG, `apphash` is the approved app builds (`admin approve-app-hash`).

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use uuid::Uuid;

use crate::accounts::session::WebSession;
use crate::accounts::Permission;
use crate::error::AppError;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

mod actions;
pub mod apphash;
pub mod chart;
pub mod data;
mod format;
mod pages;

pub use format::{age_text, money_text};

/// The dashboard's routes (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(pages::events))
        .route("/dashboard/", get(pages::events))
        .route("/dashboard/refresh.js", get(refresh_script))
        .route("/dashboard/events/{id}", get(pages::event))
        .route("/dashboard/events/{id}/devices", get(pages::devices))
        .route("/dashboard/events/{id}/exceptions", get(pages::exceptions))
        .route(
            "/dashboard/events/{id}/exceptions/resolve",
            post(actions::resolve),
        )
        .route("/dashboard/events/{id}/report", get(pages::report))
        .route(
            "/dashboard/events/{id}/transition",
            post(actions::transition),
        )
        .route(
            "/dashboard/events/{id}/draw",
            get(pages::draw).post(actions::draw),
        )
        .route("/dashboard/events/{id}/draw/export", get(actions::export))
        .route(
            "/dashboard/events/{id}/claims",
            get(pages::claims).post(actions::claim),
        )
}

/// The live-refresh script (vendored here: nothing is loaded from elsewhere).
async fn refresh_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../templates/dashboard/refresh.js"),
    )
        .into_response()
}

/// The frame of every page: title, the signed-in user, the sign-out form's token, the event
/// navigation when the page belongs to an event, and whether the page refreshes itself.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub title: String,
    pub user: String,
    pub csrf: String,
    pub event: Option<EventNav>,
    /// Which navigation entry is the current page (`events`, `overview`, `devices`, …).
    pub active: &'static str,
    /// Seconds between live refreshes; 0: the page does not refresh.
    pub refresh_secs: u32,
    /// What the last form did (after its redirect here).
    pub notice: Option<String>,
}

/// The event a page belongs to, for the navigation.
#[derive(Clone, Debug)]
pub struct EventNav {
    pub id: Uuid,
    pub name: String,
    pub identifier: String,
    pub state: String,
}

impl Chrome {
    pub fn new(session: &WebSession, title: impl Into<String>, active: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            user: session.principal.display_name.clone(),
            csrf: session.csrf.clone(),
            event: None,
            active,
            refresh_secs: 0,
            notice: None,
        }
    }
}

/// A dashboard error: the same status and code as the JSON API's, as an HTML page saying what
/// went wrong and where to go (internal details stay in the log, as for [`AppError`]).
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let code = self.0.code;
        let message = self.0.message.clone();
        // The JSON response carries the internal details in its extensions for the log layer.
        let (mut parts, _) = self.0.into_response().into_parts();
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            code,
            message: &message,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {code}: {message}", status.as_u16()));
        parts.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(body))
    }
}

pub type PageResult<T> = Result<T, PageError>;

/// Renders a template as the page's body.
pub fn render(t: &impl Template) -> PageResult<Response> {
    let html = t
        .render()
        .map_err(|e| AppError::internal("dashboard template", e))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The event id of a path, or 404 `unknown_event`.
pub fn event_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| {
        PageError(AppError::of(
            ErrorCode::UnknownEvent,
            format!("no event {raw:?}: the address needs an event id (a UUID)"),
        ))
    })
}

/// Loads the event of a page and checks that the user may do `p` in its organization.
pub async fn event_for(
    st: &AppState,
    session: &WebSession,
    raw_id: &str,
    p: Permission,
) -> PageResult<data::EventRow> {
    let id = event_id(raw_id)?;
    let ev = data::event(&st.pool, id).await?.ok_or_else(|| {
        PageError(AppError::of(
            ErrorCode::UnknownEvent,
            format!("no event {id}: it may have been deleted; go back to the events list"),
        ))
    })?;
    session.principal.require(p, ev.organization_id)?;
    Ok(ev)
}
