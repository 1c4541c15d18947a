//! `POST /v1/admin/exceptions/resolve`: resolving a rejected or conflicting journal entry
//! (permission `exception.resolve` in the organization of the entry's RSU).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::{actor_name, as_principal};
use crate::accounts::{scope, Permission};
use crate::closeout::{self, Resolve};
use crate::error::AppResult;
use crate::http::{AdminJson, CLOSEOUT_BODY_LIMIT};
use crate::state::AppState;

pub async fn resolve(
    State(st): State<AppState>,
    headers: HeaderMap,
    AdminJson(p, input): AdminJson<Resolve, CLOSEOUT_BODY_LIMIT>,
) -> AppResult<Json<Value>> {
    p.require_somewhere(Permission::ExceptionResolve)?;
    for org in scope::of_entry(&st.pool, input.entry_id).await? {
        p.require(Permission::ExceptionResolve, org)?;
    }
    let by = actor_name(&p, &headers);
    Ok(Json(
        as_principal(
            &p,
            &headers,
            closeout::resolve(&st.pool, &input, by.as_deref()),
        )
        .await?,
    ))
}
