//! The seeds' remaining entities over HTTP (docs/server.md "Templates", "Proceeds",
//! "Jurisdictions", "Data retention"): the same operations as the CLI, with their permissions.
//!
//! - templates and money settings: `event.manage` in the organization;
//! - jurisdictions and regulations (shared by every organization) and the purge (system-wide):
//!   `organization.manage` (system administrators);
//! - a venue's jurisdiction and addresses: `event.manage` in the venue's or the organization's
//!   organization; reading profiles and lists: `report.view` anywhere.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::as_principal;
use crate::accounts::{scope, Permission};
use crate::admin::money::{set_money_settings, SetMoneySettings};
use crate::admin::templates::{
    apply_templates, create_package_template, create_prize_template, list_templates,
    ApplyTemplates, ListTemplates, NewPackageTemplate, NewPrizeTemplate,
};
use crate::error::{AppError, AppResult};
use crate::http::AdminJson;
use crate::jurisdictions::admin as jur;
use crate::purge::{purge, Purge};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn package_template(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewPackageTemplate>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_package_template(&st.pool, &input)).await?,
    ))
}

pub async fn prize_template(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewPrizeTemplate>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_prize_template(&st.pool, &input)).await?,
    ))
}

pub async fn templates(
    State(st): State<AppState>,
    AdminJson(p, input): AdminJson<ListTemplates>,
) -> AppResult<Json<Value>> {
    p.require(Permission::View, input.organization_id)?;
    Ok(Json(list_templates(&st.pool, &input).await?))
}

pub async fn apply(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<ApplyTemplates>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, apply_templates(&st.pool, &input)).await?,
    ))
}

pub async fn money(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<SetMoneySettings>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, set_money_settings(&st.pool, &input)).await?,
    ))
}

pub async fn purge_data(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<Purge>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::OrganizationManage)?;
    Ok(Json(
        as_principal(&p, &headers, purge(&st.pool, &input)).await?,
    ))
}

pub async fn jurisdiction(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<jur::NewJurisdiction>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::OrganizationManage)?;
    Ok(Json(
        as_principal(&p, &headers, jur::create_jurisdiction(&st.pool, &input)).await?,
    ))
}

pub async fn regulation(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<jur::NewRegulation>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::OrganizationManage)?;
    Ok(Json(
        as_principal(&p, &headers, jur::add_regulation(&st.pool, &input)).await?,
    ))
}

pub async fn jurisdictions(
    State(st): State<AppState>,
    AdminJson(p, _): AdminJson<jur::ListJurisdictions>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::View)?;
    Ok(Json(jur::list_jurisdictions(&st.pool).await?))
}

pub async fn profile(
    State(st): State<AppState>,
    AdminJson(p, input): AdminJson<jur::ShowProfile>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::View)?;
    Ok(Json(jur::jurisdiction_profile(&st.pool, &input).await?))
}

pub async fn venue_jurisdiction(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<jur::SetVenueJurisdiction>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_venue(&st.pool, input.venue_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, jur::set_venue_jurisdiction(&st.pool, &input)).await?,
    ))
}

pub async fn address(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<jur::SetAddress>,
) -> AppResult<Json<Value>> {
    let org = match (input.venue_id, input.organization_id) {
        (Some(v), None) => scope::of_venue(&st.pool, v).await?,
        (None, Some(o)) => o,
        _ => {
            return Err(AppError::of(
                ErrorCode::InvalidField,
                "field venueId/organizationId: give exactly one of them",
            ))
        }
    };
    p.require(Permission::EventManage, org)?;
    Ok(Json(
        as_principal(&p, &headers, jur::set_address(&st.pool, &input)).await?,
    ))
}
