//! `POST /v1/admin/enrollment-tokens`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_enrollment_token, NewEnrollmentToken};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewEnrollmentToken>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_enrollment_token(&st.pool, &input).await?))
}
