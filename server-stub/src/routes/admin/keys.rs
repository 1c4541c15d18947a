//! `POST /v1/admin/keys/revoke` (permission `rsu.manage`), `POST /v1/admin/keys/list`
//! (`report.view`), in the RSU's organization.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::{revoke_key, RevokeKey};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::lifecycle::{list_keys, ListKeys};
use crate::state::AppState;

pub async fn revoke(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<RevokeKey>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::RsuManage)?;
    if let Some(rsu) = input.rsu_id {
        p.require(Permission::RsuManage, scope::of_rsu(&st.pool, rsu).await?)?;
    }
    if let Some(key) = input.key_id {
        p.require(Permission::RsuManage, scope::of_key(&st.pool, key).await?)?;
    }
    Ok(Json(
        as_principal(&p, &headers, revoke_key(&st.pool, &input)).await?,
    ))
}

pub async fn list(
    State(st): State<AppState>,
    AdminJson(p, input): AdminJson<ListKeys>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::View,
        scope::of_rsu(&st.pool, input.rsu_id).await?,
    )?;
    Ok(Json(list_keys(&st.pool, &input).await?))
}
