//! The router: every route of the server, and the layers around them. Tests build it with
//! [`router`] and call it with `tower::ServiceExt::oneshot`, or serve it on a socket with
//! [`serve`].

use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use rsu_core::wire;
use tokio::net::TcpListener;

use crate::error::{AppError, Internal};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub mod admin;
pub mod device;

async fn stamp_server_time(mut res: Response) -> Response {
    let now = rsu_core::journal::format_time(&Utc::now());
    if let Ok(v) = HeaderValue::from_str(&now) {
        res.headers_mut().insert(wire::HEADER_SERVER_TIME, v);
    }
    res
}

/// Logs what an answer left out: the details of an internal error or of an unavailable database
/// ([`AppError`] puts them in the response's extensions, never in its body).
async fn log_internal_errors(res: Response) -> Response {
    if let Some(i) = res.extensions().get::<Internal>() {
        i.log();
    }
    res
}

async fn not_found() -> AppError {
    AppError::of(
        ErrorCode::NoSuchEndpoint,
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
        .route("/openapi.json", get(crate::openapi::serve_json))
        .merge(device::router())
        .merge(admin::router())
        .merge(crate::accounts::web::router())
        .merge(crate::dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::map_response(log_internal_errors))
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
    // With each connection's peer address: the sign-in rate limit is per client address.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let r = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    r
}
