//! `POST /v1/admin/packages`, `POST /v1/admin/packages/price`.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::admin::{create_package, set_package_price, NewPackage, SetPackagePrice};
use crate::error::AppResult;
use crate::http::AdminJson;
use crate::state::AppState;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewPackage>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_package(&st.pool, &input).await?))
}

pub async fn set_price(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<SetPackagePrice>,
) -> AppResult<Json<Value>> {
    Ok(Json(set_package_price(&st.pool, &input).await?))
}
