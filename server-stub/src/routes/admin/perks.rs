//! Perks over HTTP (docs/server.md "Perks"): the same operations as the CLI, with their
//! permissions: the catalog and a package's perks `event.manage`, allocations `rsu.manage`, a
//! claim at the desk `claim.verify`, reading `report.view`, each in the organization concerned.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::{actor_name, as_principal};
use crate::accounts::{scope, Permission};
use crate::error::{AppError, AppResult};
use crate::http::AdminJson;
use crate::perks::admin::{
    add_package_perk, allocate_perks, create_perk, list_perks, AddPackagePerk, AllocatePerks,
    ListPerks, NewPerk,
};
use crate::perks::claim::{claim_perk, ClaimPerk};
use crate::perks::report::{perk_report, PerkReport};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewPerk>,
) -> AppResult<Json<Value>> {
    p.require(Permission::EventManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_perk(&st.pool, &input)).await?,
    ))
}

pub async fn list(
    State(st): State<AppState>,
    AdminJson(p, input): AdminJson<ListPerks>,
) -> AppResult<Json<Value>> {
    p.require(Permission::View, input.organization_id)?;
    Ok(Json(list_perks(&st.pool, &input).await?))
}

pub async fn add_to_package(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<AddPackagePerk>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventManage,
        scope::of_package(&st.pool, input.package_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, add_package_perk(&st.pool, &input)).await?,
    ))
}

pub async fn allocate(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<AllocatePerks>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::RsuManage,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, allocate_perks(&st.pool, &input)).await?,
    ))
}

pub async fn claim(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, mut input): AdminJson<ClaimPerk>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::ClaimVerify)?;
    match input.organization_id {
        Some(org) => p.require(Permission::ClaimVerify, org)?,
        // A user of some organizations claims only in them: the code is looked up there.
        None => {
            if let Some(orgs) = p.organizations_with(Permission::ClaimVerify) {
                match orgs.as_slice() {
                    [one] => input.organization_id = Some(*one),
                    _ => {
                        return Err(AppError::of(
                            ErrorCode::InvalidField,
                            "field organizationId: you work for several organizations; say which one the claim is in",
                        ))
                    }
                }
            }
        }
    }
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(&p, &headers, claim_perk(&st.pool, &input, by.as_deref())).await?,
    ))
}

pub async fn report(
    State(st): State<AppState>,
    AdminJson(p, input): AdminJson<PerkReport>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::View,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    Ok(Json(perk_report(&st.pool, &input).await?))
}
