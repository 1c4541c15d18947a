//! `POST /v1/admin/organizations`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_organization, NewOrganization};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewOrganization>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_organization(&st.pool, &input).await?))
}
