//! `POST /v1/admin/exceptions/resolve`: resolving a rejected or conflicting journal entry.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::admin_name;
use crate::closeout::{self, Resolve};
use crate::error::AppResult;
use crate::http::{AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::state::AppState;

pub async fn resolve(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(input): AdminJson<Resolve, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        closeout::resolve(&st.pool, &input, admin_name(&headers).as_deref()).await?,
    ))
}
