//! The draw and claims over HTTP (admin bearer token; `X-Admin-Name` says who):
//! - `POST /v1/admin/draws` `{eventId, beacon?}`: the draw;
//! - `POST /v1/admin/draws/redraw` `{eventId, reason, beacon?}`: the redraw of unclaimed prizes;
//! - `GET /v1/admin/events/{id}/draw-commitment`: the published commitment;
//! - `GET /v1/admin/events/{id}/draw-export`: the file `verify-draw` replays;
//! - `POST /v1/admin/claims` `{validationNumber | qr, organizationId?}`: a claim;
//! - `POST /v1/admin/receipts/verify` `{qr}`: a receipt's signed QR checked.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;
use uuid::Uuid;

use super::algorithm::DrawFile;
use crate::app::AppState;
use crate::error::{parse_json, AppError, AppResult};

fn admin_name(headers: &HeaderMap) -> Option<String> {
    headers
        .get(crate::closeout::HEADER_ADMIN_NAME)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn event_id(id: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        AppError::not_found(
            "unknown_event",
            format!("no event {id:?}: the path needs an event id (a UUID)"),
        )
    })
}

async fn body<T: serde::de::DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> AppResult<T> {
    crate::admin::check_admin(st, headers)?;
    let bytes = crate::device::read_body(headers, body, 64 * 1024).await?;
    parse_json(&bytes)
}

/// `POST /v1/admin/draws`.
pub async fn http_draw(
    State(st): State<AppState>,
    headers: HeaderMap,
    b: axum::body::Body,
) -> AppResult<Json<Value>> {
    let a: super::cli::Draw = body(&st, &headers, b).await?;
    Ok(Json(
        super::cli::draw(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `POST /v1/admin/draws/redraw`.
pub async fn http_redraw(
    State(st): State<AppState>,
    headers: HeaderMap,
    b: axum::body::Body,
) -> AppResult<Json<Value>> {
    let a: super::cli::Redraw = body(&st, &headers, b).await?;
    Ok(Json(
        super::cli::redraw(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `GET /v1/admin/events/{id}/draw-commitment`.
pub async fn http_commitment(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    crate::admin::check_admin(&st, &headers)?;
    Ok(Json(
        super::store::show_commitment(&st.pool, event_id(&id)?).await?,
    ))
}

/// `GET /v1/admin/events/{id}/draw-export`.
pub async fn http_export(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<DrawFile>> {
    crate::admin::check_admin(&st, &headers)?;
    Ok(Json(super::export(&st.pool, event_id(&id)?).await?))
}

/// `POST /v1/admin/claims`.
pub async fn http_claim(
    State(st): State<AppState>,
    headers: HeaderMap,
    b: axum::body::Body,
) -> AppResult<Json<Value>> {
    let a: crate::claims::Claim = body(&st, &headers, b).await?;
    Ok(Json(
        crate::claims::claim(&st.pool, &a, admin_name(&headers).as_deref()).await?,
    ))
}

/// `POST /v1/admin/receipts/verify`.
pub async fn http_verify_receipt(
    State(st): State<AppState>,
    headers: HeaderMap,
    b: axum::body::Body,
) -> AppResult<Json<Value>> {
    let a: crate::claims::VerifyReceipt = body(&st, &headers, b).await?;
    Ok(Json(crate::claims::verify_receipt(&st.pool, &a).await?))
}
