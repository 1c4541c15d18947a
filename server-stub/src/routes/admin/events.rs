//! `POST /v1/admin/events` and `POST /v1/admin/events/transition` (permission `event.manage`;
//! `event.reconcile` for the move to `reconciled`, which records who confirmed the
//! reconciliation), `GET /v1/admin/events/{id}/report` (`report.view`); each in the event's
//! organization.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;
use uuid::Uuid;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::{create_event, NewEvent, Transition};
use crate::error::{AppError, AppResult};
use crate::http::{Admin, AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::report;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewEvent>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_event(&st.pool, &input)).await?,
    ))
}

/// The permission a transition needs: confirming a reconciliation is `event.reconcile`.
fn transition_permission(to: &str) -> Permission {
    if to.trim().eq_ignore_ascii_case("reconciled") {
        Permission::EventReconcile
    } else {
        Permission::EventManage
    }
}

pub async fn transition(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<Transition, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    p.require(
        transition_permission(&input.to),
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    let v = as_principal(&p, &headers, crate::admin::transition(&st.pool, &input)).await?;
    Ok(Json(v))
}

/// The report as JSON.
pub async fn report(
    State(st): State<AppState>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<report::Report>> {
    let id = Uuid::parse_str(&id).map_err(|_| {
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("no event {id:?}: the path needs an event id (a UUID)"),
        )
    })?;
    p.require(Permission::View, scope::of_event(&st.pool, id).await?)?;
    Ok(Json(report::event_report(&st.pool, id).await?))
}
