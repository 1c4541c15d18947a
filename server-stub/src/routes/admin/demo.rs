//! `POST /v1/admin/demo-seed` (creates an organization: permission `organization.manage`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::Permission;
use crate::demo::demo_seed;
use crate::error::AppResult;
use crate::http::Admin;
use crate::state::AppState;

pub async fn seed(
    State(st): State<AppState>,
    headers: HeaderMap,
    Admin(p): Admin,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::OrganizationManage)?;
    Ok(Json(as_principal(&p, &headers, demo_seed(&st.pool)).await?))
}
