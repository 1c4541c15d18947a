//! The dashboard's forms (POST, each through [`CsrfForm`]) and the draw export download. Each
//! checks its permission in the event's organization, then calls the same operation as the CLI
//! and the JSON admin API, recording the signed-in user's name as who did it. Success redirects
//! (303) to the page that shows the result; a refusal is an error page saying why.

use crate::accounts::acting_as;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{event_for, format::money_text, pages, PageError, PageResult};
use crate::accounts::session::{CsrfForm, WebSession};
use crate::accounts::Permission;
use crate::admin::Transition;
use crate::error::AppError;
use crate::state::AppState;
use rsu_core::event::EventState;
use rsu_core::wire::ErrorCode;

fn bad(field: &str, why: &str) -> PageError {
    PageError(AppError::of(
        ErrorCode::InvalidField,
        format!("field {field}: {why}"),
    ))
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(rename = "entryId", default)]
    entry_id: String,
    #[serde(default)]
    seq: Option<String>,
    #[serde(default)]
    note: String,
}

/// Resolves a rejected or conflicting entry with a note (`closeout::resolve`).
pub async fn resolve(
    State(st): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<ResolveForm>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::ExceptionResolve).await?;
    let entry_id = Uuid::parse_str(form.entry_id.trim())
        .map_err(|_| bad("entryId", "is not an entry id; reload the exceptions page"))?;
    let seq = match trimmed(form.seq) {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| bad("seq", "is not a number; reload the exceptions page"))?,
        ),
        None => None,
    };
    let by = session.principal.user_id;
    acting_as(
        by,
        crate::closeout::resolve(
            &st.pool,
            &crate::closeout::Resolve {
                entry_id,
                note: form.note,
                seq,
            },
            Some(&session.principal.display_name),
        ),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/dashboard/events/{}/exceptions?done=resolved",
        ev.id
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct TransitionForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Moves the event along (`admin::transition`, with the draw gate of `closeout::gate`).
/// Confirming a reconciliation needs `event.reconcile`; every other move `event.manage`.
pub async fn transition(
    State(st): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<TransitionForm>,
) -> PageResult<Response> {
    let to = form.to.trim().to_string();
    let needs = if to == EventState::Reconciled.as_str() {
        Permission::EventReconcile
    } else {
        Permission::EventManage
    };
    let ev = event_for(&st, &session, &id, needs).await?;
    acting_as(
        session.principal.user_id,
        crate::closeout::with_actor(
            Some(session.principal.display_name.clone()),
            crate::admin::transition(
                &st.pool,
                &Transition {
                    event_id: ev.id,
                    to,
                    reason: trimmed(form.reason),
                },
            ),
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/dashboard/events/{}/report?done=moved", ev.id)).into_response())
}

#[derive(Deserialize)]
pub struct DrawForm {
    #[serde(default)]
    beacon: Option<String>,
}

/// Runs the draw (`draw::run_draw`): drawing_ready only, once.
pub async fn draw(
    State(st): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<DrawForm>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::DrawRun).await?;
    let beacon = trimmed(form.beacon);
    acting_as(
        session.principal.user_id,
        crate::draw::run_draw(
            &st.pool,
            &crate::draw::DrawRequest {
                event_id: ev.id,
                beacon: beacon.as_deref(),
                by: &session.principal.display_name,
            },
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/dashboard/events/{}/draw?done=drawn", ev.id)).into_response())
}

/// The draw export (`draw::export`) as a file download.
pub async fn export(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let file = crate::draw::export(&st.pool, ev.id).await?;
    let body =
        serde_json::to_vec_pretty(&file).map_err(|e| AppError::internal("draw export json", e))?;
    let name: String = ev
        .event_identifier
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"draw-{name}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ClaimForm {
    #[serde(rename = "validationNumber", default)]
    validation_number: String,
    #[serde(rename = "deadlineOverride", default)]
    deadline_override: Option<String>,
}

/// Records a prize claim by validation number (`claims::claim`), within the event's
/// organization; shows what was claimed.
pub async fn claim(
    State(st): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<ClaimForm>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::ClaimVerify).await?;
    let number = form.validation_number.trim().to_string();
    if number.is_empty() {
        return Err(bad(
            "validationNumber",
            "type the validation number printed on the receipt",
        ));
    }
    let out = acting_as(
        session.principal.user_id,
        crate::claims::claim(
            &st.pool,
            &crate::claims::Claim {
                validation_number: Some(number),
                qr: None,
                organization_id: Some(ev.organization_id),
                deadline_override: trimmed(form.deadline_override),
            },
            Some(&session.principal.display_name),
        ),
    )
    .await?;
    let prizes = out["prizes"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{} (place {}): number {}, {}",
                        p["prize"].as_str().unwrap_or("prize"),
                        p["position"],
                        p["drawNumber"],
                        money_text(p["value"].as_i64().unwrap_or(0), &ev.currency)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let result = (
        out["validationNumber"].as_str().unwrap_or("").to_string(),
        prizes,
        format!(
            "Claim deadline: {}.",
            out["deadlineCheck"].as_str().unwrap_or("checked")
        ),
    );
    pages::claims_page(&st, &session, &ev, Some(result)).await
}
