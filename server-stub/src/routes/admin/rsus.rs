//! `POST /v1/admin/rsus` (create, with an enrollment token), `…/rsus/state`,
//! `…/rsus/release-withheld`, `…/rsus/import-journal` (permission `rsu.manage` in the RSU's
//! organization); `…/rsus/exclude`, `…/rsus/include` (`event.reconcile` in the event's).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::{actor_name, as_principal};
use crate::accounts::{scope, Permission};
use crate::admin::show::create_rsu_with_limits;
use crate::admin::NewRsu;
use crate::closeout::{self, ExcludeRsu, IncludeRsu};
use crate::error::{AppError, AppResult};
use crate::http::{AdminBytes, AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::import::{self, ImportQuery, ImportReport, MAX_IMPORT_BYTES};
use crate::lifecycle::{self, ReleaseWithheld, SetRsuState};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<NewRsu>,
) -> AppResult<Json<Value>> {
    p.require(Permission::RsuManage, input.organization_id)?;
    Ok(Json(
        as_principal(&p, &headers, create_rsu_with_limits(&st.pool, &input)).await?,
    ))
}

pub async fn set_state(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<SetRsuState>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::RsuManage,
        scope::of_rsu(&st.pool, input.rsu_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, lifecycle::set_rsu_state(&st.pool, &input)).await?,
    ))
}

pub async fn release_withheld(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<ReleaseWithheld>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::RsuManage,
        scope::of_rsu(&st.pool, input.rsu_id).await?,
    )?;
    Ok(Json(
        as_principal(&p, &headers, lifecycle::release_withheld(&st.pool, &input)).await?,
    ))
}

pub async fn exclude(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<ExcludeRsu, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventReconcile,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(
            &p,
            &headers,
            closeout::exclude_rsu(&st.pool, &input, by.as_deref()),
        )
        .await?,
    ))
}

pub async fn include(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<IncludeRsu, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    p.require(
        Permission::EventReconcile,
        scope::of_event(&st.pool, input.event_id).await?,
    )?;
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(
            &p,
            &headers,
            closeout::include_rsu(&st.pool, &input, by.as_deref()),
        )
        .await?,
    ))
}

/// `POST /v1/admin/rsus/import-journal?rsuId=…` with the export file as the body.
pub async fn import_journal(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    AdminBytes(p, bytes): AdminBytes<MAX_IMPORT_BYTES>,
) -> AppResult<Json<ImportReport>> {
    p.require(
        Permission::RsuManage,
        scope::of_rsu(&st.pool, q.rsu_id).await?,
    )?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AppError::of(ErrorCode::BadExport, "the body is not UTF-8 text"))?;
    let file = import::parse_export(text)?;
    Ok(Json(
        as_principal(
            &p,
            &headers,
            import::import_export(&st.pool, q.rsu_id, &file, |_, _| {}),
        )
        .await?,
    ))
}
