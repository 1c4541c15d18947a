//! `POST /v1/admin/venues` (permission `event.manage` in the organization).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::Permission;
use crate::admin::{create_venue, NewVenue};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewVenue>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_venue(&st.pool, &input)).await?,
    ))
}
