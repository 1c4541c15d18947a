//! `POST /v1/admin/allocations`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_allocation, NewAllocation};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewAllocation>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_allocation(&st.pool, &input).await?))
}
