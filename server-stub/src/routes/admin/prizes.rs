//! `POST /v1/admin/prizes`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_prize, NewPrize};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewPrize>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_prize(&st.pool, &input).await?))
}
