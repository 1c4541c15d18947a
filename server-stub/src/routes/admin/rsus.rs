//! `POST /v1/admin/rsus` (create, with an enrollment token), `…/rsus/state`,
//! `…/rsus/release-withheld`, `…/rsus/exclude`, `…/rsus/include`, `…/rsus/import-journal`.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::admin_name;
use crate::admin::{create_rsu, NewRsu};
use crate::closeout::{self, ExcludeRsu, IncludeRsu};
use crate::error::{AppError, AppResult};
use crate::http::{AdminBytes, AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::import::{self, ImportQuery, ImportReport, MAX_IMPORT_BYTES};
use crate::lifecycle::{self, ReleaseWithheld, SetRsuState};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn create(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<NewRsu>,
) -> AppResult<Json<Value>> {
    Ok(Json(create_rsu(&st.pool, &input).await?))
}

pub async fn set_state(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<SetRsuState>,
) -> AppResult<Json<Value>> {
    Ok(Json(lifecycle::set_rsu_state(&st.pool, &input).await?))
}

pub async fn release_withheld(
    State(st): State<AppState>,
    AdminJson(input): AdminJson<ReleaseWithheld>,
) -> AppResult<Json<Value>> {
    Ok(Json(lifecycle::release_withheld(&st.pool, &input).await?))
}

pub async fn exclude(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(input): AdminJson<ExcludeRsu, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        closeout::exclude_rsu(&st.pool, &input, admin_name(&headers).as_deref()).await?,
    ))
}

pub async fn include(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(input): AdminJson<IncludeRsu, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        closeout::include_rsu(&st.pool, &input, admin_name(&headers).as_deref()).await?,
    ))
}

/// `POST /v1/admin/rsus/import-journal?rsuId=…` with the export file as the body.
pub async fn import_journal(
    State(st): State<AppState>,
    Query(q): Query<ImportQuery>,
    AdminBytes(bytes): AdminBytes<MAX_IMPORT_BYTES>,
) -> AppResult<Json<ImportReport>> {
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AppError::of(ErrorCode::BadExport, "the body is not UTF-8 text"))?;
    let file = import::parse_export(text)?;
    Ok(Json(
        import::import_export(&st.pool, q.rsu_id, &file, |_, _| {}).await?,
    ))
}
