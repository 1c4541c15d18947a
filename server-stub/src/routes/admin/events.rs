//! `POST /v1/admin/events`, `POST /v1/admin/events/transition` (the `X-Admin-Name` header is
//! recorded as who confirmed a reconciliation), `GET /v1/admin/events/{id}/report`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;
use uuid::Uuid;

use super::admin_name;
use crate::admin::{create_event, NewEvent, Transition};
use crate::closeout::with_actor;
use crate::error::{AppError, AppResult};
use crate::http::{Admin, AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::report;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewEvent>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_event(&st.pool, &input).await?))
}

pub async fn transition(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(input): AdminJson<Transition, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    let v = with_actor(
        admin_name(&headers),
        crate::admin::transition(&st.pool, &input),
    )
    .await?;
    Ok(Json(v))
}

/// The report as JSON.
pub async fn report(
    State(st): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> AppResult<Json<report::Report>> {
    let id = Uuid::parse_str(&id).map_err(|_| {
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("no event {id:?}: the path needs an event id (a UUID)"),
        )
    })?;
    Ok(Json(report::event_report(&st.pool, id).await?))
}
