//! The draw and claims over HTTP (admin bearer token; the token's user, or for the shared token
//! `X-Admin-Name`, says who), docs/draw.md. Permissions (docs/server.md "Accounts and roles"):
//! `draw.run` for the draw and redraw, `report.view` for the commitment and export,
//! `claim.verify` for claims and receipt checks, in the organization of the event, the receipt's
//! device, or the claim's `organizationId`.
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

use super::{actor_name, as_principal};
use crate::accounts::{scope, Permission, Principal};
use crate::claims::{self, Claim, VerifyReceipt};
use crate::draw::algorithm::DrawFile;
use crate::draw::{self, cli};
use crate::error::{AppError, AppResult};
use crate::http::{Admin, AdminJson};
use crate::state::AppState;
use rsu_core::receipt_qr::ReceiptQr;

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
    AdminJson(p, a): AdminJson<cli::Draw>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::DrawRun,
        scope::of_event(&st.pool, a.event_id).await?,
    )?;
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(&p, &headers, cli::draw(&st.pool, &a, by.as_deref())).await?,
    ))
}

/// `POST /v1/admin/draws/redraw`.
pub async fn redraw(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, a): AdminJson<cli::Redraw>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::DrawRun,
        scope::of_event(&st.pool, a.event_id).await?,
    )?;
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(&p, &headers, cli::redraw(&st.pool, &a, by.as_deref())).await?,
    ))
}

/// `GET /v1/admin/events/{id}/draw-commitment`.
pub async fn commitment(
    State(st): State<AppState>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = event_id(&id)?;
    p.require(Permission::View, scope::of_event(&st.pool, id).await?)?;
    Ok(Json(draw::store::show_commitment(&st.pool, id).await?))
}

/// `GET /v1/admin/events/{id}/draw-export`.
pub async fn export(
    State(st): State<AppState>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<DrawFile>> {
    let id = event_id(&id)?;
    p.require(Permission::View, scope::of_event(&st.pool, id).await?)?;
    Ok(Json(draw::export(&st.pool, id).await?))
}

/// `POST /v1/admin/claims`.
pub async fn claim(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, mut a): AdminJson<Claim>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::ClaimVerify)?;
    if let Some(org) = qr_org(&st, a.qr.as_deref()).await? {
        p.require(Permission::ClaimVerify, org)?;
    }
    match a.organization_id {
        Some(org) => p.require(Permission::ClaimVerify, org)?,
        // A user of some organizations claims only in them: the number is looked up there.
        None => a.organization_id = only_org(&p, Permission::ClaimVerify)?,
    }
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(&p, &headers, claims::claim(&st.pool, &a, by.as_deref())).await?,
    ))
}

/// The organization of the device that signed a receipt QR, when it parses and names a key
/// this server knows (otherwise the operation reports what is wrong with it).
async fn qr_org(st: &AppState, qr: Option<&str>) -> AppResult<Option<Uuid>> {
    let Some(Ok(qr)) = qr.map(ReceiptQr::parse) else {
        return Ok(None);
    };
    Ok(scope::of_key(&st.pool, qr.key_id).await.ok())
}

/// For a principal limited to some organizations: the one where it may do `perm`, or a request
/// to name it; `None` (no restriction) for every-organization principals.
fn only_org(p: &Principal, perm: Permission) -> AppResult<Option<Uuid>> {
    let Some(orgs) = p.organizations_with(perm) else {
        return Ok(None);
    };
    match orgs.as_slice() {
        [one] => Ok(Some(*one)),
        _ => Err(AppError::of(
            ErrorCode::InvalidField,
            "field organizationId: you work for several organizations; say which one the claim is in",
        )),
    }
}

/// `POST /v1/admin/receipts/verify`.
pub async fn verify_receipt(
    State(st): State<AppState>,
    AdminJson(p, a): AdminJson<VerifyReceipt>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::ClaimVerify)?;
    if let Some(org) = qr_org(&st, Some(&a.qr)).await? {
        p.require(Permission::ClaimVerify, org)?;
    }
    Ok(Json(claims::verify_receipt(&st.pool, &a).await?))
}
