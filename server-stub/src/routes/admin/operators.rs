//! `POST /v1/admin/operators`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_operator, NewOperator};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewOperator>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_operator(&st.pool, &input).await?))
}
