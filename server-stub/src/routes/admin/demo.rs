//! `POST /v1/admin/demo-seed`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::demo::demo_seed;
use crate::error::AppResult;
use crate::http::Admin;
use crate::state::AppState;

pub async fn seed(State(st): State<AppState>, _: Admin) -> AppResult<Json<Value>> {
    Ok(Json(demo_seed(&st.pool).await?))
}
