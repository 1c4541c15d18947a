//! The draw and claims over HTTP (admin bearer token; `X-Admin-Name` says who), docs/draw.md:
//! - `POST /v1/admin/draws` `{eventId, beacon?}`: the draw;
//! - `POST /v1/admin/draws/redraw` `{eventId, reason, beacon?}`: the redraw of unclaimed prizes;
//! - `GET /v1/admin/events/{id}/draw-commitment`: the published commitment;
//! - `GET /v1/admin/events/{id}/draw-export`: the file `verify-draw` replays;
//! - `POST /v1/admin/claims` `{validationNumber | qr, organizationId?}`: a claim;
//! - `POST /v1/admin/receipts/verify` `{qr}`: a receipt's signed QR checked.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use rsu_core::wire::ErrorCode;
use serde_json::Value;
use uuid::Uuid;

use super::admin_name;
use crate::claims::{self, Claim, VerifyReceipt};
use crate::draw::algorithm::DrawFile;
use crate::draw::{self, cli};
use crate::error::{AppError, AppResult};
use crate::http::{Admin, AdminJson};
use crate::state::AppState;

fn event_id(id: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("no event {id:?}: the path needs an event id (a UUID)"),
        )
    })
}

/// `POST /v1/admin/draws`.
pub async fn run(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(a): AdminJson<cli::Draw>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cli::draw(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `POST /v1/admin/draws/redraw`.
pub async fn redraw(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(a): AdminJson<cli::Redraw>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cli::redraw(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `GET /v1/admin/events/{id}/draw-commitment`.
pub async fn commitment(
    State(st): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        draw::store::show_commitment(&st.pool, event_id(&id)?).await?,
    ))
}

/// `GET /v1/admin/events/{id}/draw-export`.
pub async fn export(
    State(st): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> AppResult<Json<DrawFile>> {
    Ok(Json(draw::export(&st.pool, event_id(&id)?).await?))
}

/// `POST /v1/admin/claims`.
pub async fn claim(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(a): AdminJson<Claim>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        claims::claim(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `POST /v1/admin/receipts/verify`.
pub async fn verify_receipt(
    State(st): State<AppState>,
    AdminJson(a): AdminJson<VerifyReceipt>,
) -> AppResult<Json<Value>> {
    Ok(Json(claims::verify_receipt(&st.pool, &a).await?))
}
