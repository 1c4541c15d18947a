//! `POST /v1/rsu/journal`: the journal push. The handler picks the validation key of the
//! entries' epoch and, under an expired key, keeps only entries made before it expired; the
//! reconciliation itself is [`crate::ingest::push`].

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use rsu_core::wire::PushResponse;

use crate::error::{AppError, AppResult};
use crate::http::SignedPush;
use crate::ingest::IncomingPush;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn journal(
    State(st): State<AppState>,
    push: Result<SignedPush<IncomingPush>, AppError>,
) -> Response {
    // Every push is counted by its result (crate::metrics); the time of an authenticated one too.
    let started = std::time::Instant::now();
    let (r, took) = match push {
        Ok(SignedPush(dev, incoming)) => (apply(&st, dev, incoming).await, Some(started.elapsed())),
        Err(e) => (Err(e), None),
    };
    st.metrics.observe_push(r.as_ref(), took);
    // Every answer says how big the next batch may be, sized to the push queue (admission.rs).
    let batch_max = (
        HeaderName::from_static(rsu_core::wire::HEADER_BATCH_MAX),
        HeaderValue::from(st.push_gate.batch_max()),
    );
    ([batch_max], r.map(Json)).into_response()
}

async fn apply(
    st: &AppState,
    mut dev: crate::auth::Device,
    incoming: IncomingPush,
) -> AppResult<PushResponse> {
    // At most so many pushes work at once; the rest queue briefly or are told when to return.
    let mut permit = st.push_gate.enter().await?;
    let received_at = Utc::now();
    let (mut req, forms) = incoming.into_push(received_at)?;
    permit.set_entries(req.entries.len());
    crate::ingest::check_shape(&req)?;
    // Tags are checked with the key of the epoch the entries belong to (a new key each epoch).
    if let Ok(epoch) = i32::try_from(req.epoch) {
        let key: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT validation_key FROM rsu_epochs WHERE rsu_id = $1 AND epoch = $2",
        )
        .bind(dev.rsu_id)
        .bind(epoch)
        .fetch_optional(&st.pool)
        .await?;
        if let Some(Some(k)) = key {
            dev.validation_key = Some(rsu_core::validation::ValidationKey::new(&k));
        }
    }
    if dev.key_expired {
        // Only entries made before the key expired may still be uploaded with it; the rest wait
        // for a new key (they are not answered, so the device sends them again).
        let keep = req
            .entries
            .iter()
            .take_while(|e| e.body.created_at < dev.key_expires_at)
            .count();
        if keep == 0 {
            return Err(AppError::of(
                ErrorCode::KeyExpired,
                format!(
                    "key {} expired at {}; these entries were made after that: rotate the key or enroll again",
                    dev.key_id, dev.key_expires_at
                ),
            ));
        }
        req.entries.truncate(keep);
    }
    crate::ingest::push(&st.pool, &dev, &req, &forms, received_at).await
}
