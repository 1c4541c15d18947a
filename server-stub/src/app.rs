//! The router and its state. Tests build the router with [`router`] and call it with
//! `tower::ServiceExt::oneshot`, or serve it on a socket with [`serve`].

use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use rsu_core::wire;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::error::AppError;
use crate::{admin, closeout, device};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// HMAC key and tag of the admin token: the token is compared with `ring::hmac::verify`.
    pub admin_key: ring::hmac::Key,
    pub admin_tag: Option<Vec<u8>>,
}

impl AppState {
    pub fn new(pool: PgPool, admin_token: Option<&str>) -> Result<Self, AppError> {
        let secret = device::random_bytes::<32>()?;
        let admin_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let admin_tag =
            admin_token.map(|t| ring::hmac::sign(&admin_key, t.as_bytes()).as_ref().to_vec());
        Ok(AppState {
            pool,
            admin_key,
            admin_tag,
        })
    }
}

async fn stamp_server_time(mut res: Response) -> Response {
    let now = rsu_core::journal::format_time(&Utc::now());
    if let Ok(v) = HeaderValue::from_str(&now) {
        res.headers_mut().insert(wire::HEADER_SERVER_TIME, v);
    }
    res
}

async fn not_found() -> AppError {
    AppError::not_found(
        "no_such_endpoint",
        "no endpoint at this path and method: see docs/protocol.md",
    )
}

async fn health() -> &'static str {
    "ok"
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route(wire::PATH_ENROLL, post(device::enroll))
        .route(wire::PATH_CONFIG, get(device::config))
        .route(wire::PATH_ALLOCATIONS, post(device::top_up))
        .route(wire::PATH_JOURNAL, post(device::journal))
        .route(wire::PATH_HEARTBEAT, post(device::heartbeat))
        .route(wire::PATH_KEYS, post(device::rotate_key))
        .route(
            "/v1/admin/organizations",
            post(admin::http_create_organization),
        )
        .route("/v1/admin/venues", post(admin::http_create_venue))
        .route("/v1/admin/events", post(admin::http_create_event))
        .route(
            "/v1/admin/events/transition",
            post(closeout::http_transition),
        )
        .route("/v1/admin/events/{id}/report", get(closeout::http_report))
        .route("/v1/admin/exceptions/resolve", post(closeout::http_resolve))
        .route("/v1/admin/rsus/exclude", post(closeout::http_exclude_rsu))
        .route(
            "/v1/admin/rsus/import-journal",
            post(crate::import::http_import_journal),
        )
        .route("/v1/admin/rsus/include", post(closeout::http_include_rsu))
        .route("/v1/admin/packages", post(admin::http_create_package))
        .route(
            "/v1/admin/packages/price",
            post(admin::http_set_package_price),
        )
        .route("/v1/admin/prizes", post(admin::http_create_prize))
        .route("/v1/admin/operators", post(admin::http_create_operator))
        .route("/v1/admin/rsus", post(admin::http_create_rsu))
        .route(
            "/v1/admin/enrollment-tokens",
            post(admin::http_create_enrollment_token),
        )
        .route("/v1/admin/keys/revoke", post(admin::http_revoke_key))
        .route("/v1/admin/keys/list", post(admin::http_list_keys))
        .route("/v1/admin/rsus/state", post(admin::http_set_rsu_state))
        .route(
            "/v1/admin/rsus/release-withheld",
            post(admin::http_release_withheld),
        )
        .route("/v1/admin/allocations", post(admin::http_create_allocation))
        .route("/v1/admin/demo-seed", post(admin::http_demo_seed))
        .route("/v1/admin/draws", post(crate::draw::http::http_draw))
        .route(
            "/v1/admin/draws/redraw",
            post(crate::draw::http::http_redraw),
        )
        .route(
            "/v1/admin/events/{id}/draw-commitment",
            get(crate::draw::http::http_commitment),
        )
        .route(
            "/v1/admin/events/{id}/draw-export",
            get(crate::draw::http::http_export),
        )
        .route("/v1/admin/claims", post(crate::draw::http::http_claim))
        .route(
            "/v1/admin/receipts/verify",
            post(crate::draw::http::http_verify_receipt),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::map_response(stamp_server_time))
        .with_state(state)
}

/// Serves until `shutdown` resolves; purges old nonces every minute meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let pool = state.pool.clone();
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = crate::auth::purge_nonces(&pool).await {
                tracing::warn!(error = %e, "purging old nonces failed");
            }
        }
    });
    let r = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    r
}
