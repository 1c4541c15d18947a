//! `POST /v1/admin/packages`, `POST /v1/admin/packages/price` (permission `event.manage` in the
//! event's organization).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::{create_package, set_package_price, NewPackage, SetPackagePrice};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewPackage>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, create_package(&st.pool, &input)).await?,
    ))
}

pub async fn set_price(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<SetPackagePrice>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_package(&st.pool, input.package_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, set_package_price(&st.pool, &input)).await?,
    ))
}
