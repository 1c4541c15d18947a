//! `POST /v1/admin/allocations` (permission `rsu.manage` in the event's organization).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::{create_allocation, NewAllocation};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewAllocation>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::RsuManage,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    p.require(
        Permission::RsuManage,
        scope::of_rsu(&st.pool, input.rsu_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, create_allocation(&st.pool, &input)).await?,
    ))
}
