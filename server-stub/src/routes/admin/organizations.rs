//! `POST /v1/admin/organizations` (permission `organization.manage`: system administrators).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::Permission;
use crate::admin::{create_organization, NewOrganization};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewOrganization>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::OrganizationManage)?;
    Ok(Json(
        as_principal(&p, &headers, create_organization(&st.pool, &input)).await?,
    ))
}
