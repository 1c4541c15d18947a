//! `POST /v1/admin/prizes` (permission `event.manage` in the event's organization).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::{create_prize, NewPrize};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewPrize>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, create_prize(&st.pool, &input)).await?,
    ))
}
