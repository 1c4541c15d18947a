//! `POST /v1/rsu/allocations`: a device tops up its numbers of an event
//! ([`crate::allocations::carve_allocation`], capped per RSU).

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use rsu_core::wire::{TopUpRequest, TopUpResponse};

use crate::allocations::carve_allocation;
use crate::error::AppResult;
use crate::http::SignedJson;
use crate::state::AppState;

pub async fn top_up(
    State(st): State<AppState>,
    SignedJson(dev, req): SignedJson<TopUpRequest>,
) -> AppResult<Json<TopUpResponse>> {
    let allocation = carve_allocation(
        &st.pool,
        dev.organization_id,
        dev.rsu_id,
        req.event_id,
        req.count,
        None,
        true,
    )
    .await?;
    crate::lifecycle::mark_config_pulled(&st.pool, dev.rsu_id).await?;
    Ok(Json(TopUpResponse {
        allocation,
        server_time: Utc::now(),
    }))
}
