//! `GET /v1/rsu/config`: the device's configuration ([`crate::device_config`]).

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use rsu_core::wire::ConfigResponse;

use crate::device_config::device_config;
use crate::error::AppResult;
use crate::http::Signed;
use crate::state::AppState;

pub async fn config(
    State(st): State<AppState>,
    Signed(dev): Signed,
) -> AppResult<Json<ConfigResponse>> {
    let config = device_config(&st.pool, &dev).await?;
    crate::lifecycle::mark_config_pulled(&st.pool, dev.rsu_id).await?;
    Ok(Json(ConfigResponse {
        server_time: Utc::now(),
        epoch: dev.current_epoch,
        config,
        key_expires_at: Some(dev.key_expires_at),
    }))
}
