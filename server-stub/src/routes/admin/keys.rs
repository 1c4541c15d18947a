//! `POST /v1/admin/keys/revoke`, `POST /v1/admin/keys/list`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{revoke_key, RevokeKey};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::lifecycle::{list_keys, ListKeys};
use crate::state::AppState;

pub async fn revoke(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<RevokeKey>,
) -> AppResult<Json<Value>> {
    Ok(Json(revoke_key(&st.pool, &input).await?))
}

pub async fn list(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<ListKeys>,
) -> AppResult<Json<Value>> {
    Ok(Json(list_keys(&st.pool, &input).await?))
}
