//! `/v1/rsu/*`: the device endpoints (DESIGN §6), one file each. Every one but enrollment is
//! signed and takes [`crate::http::SignedJson`] (or `Signed`, `SignedPush`).

use axum::routing::{get, post};
use axum::Router;
use rsu_core::wire;

use crate::state::AppState;

mod allocations;
mod config;
pub mod enroll;
mod heartbeat;
mod journal;
mod keys;

/// The routes of `/v1/rsu/*`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(wire::PATH_ENROLL, post(enroll::enroll))
        .route(wire::PATH_CONFIG, get(config::config))
        .route(wire::PATH_ALLOCATIONS, post(allocations::top_up))
        .route(wire::PATH_JOURNAL, post(journal::journal))
        .route(wire::PATH_HEARTBEAT, post(heartbeat::heartbeat))
        .route(wire::PATH_KEYS, post(keys::rotate_key))
}
