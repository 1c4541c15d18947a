//! `POST /v1/admin/venues`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_venue, NewVenue};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewVenue>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_venue(&st.pool, &input).await?))
}
