//! The companion server of the raffle sales units: PostgreSQL schema, device enrollment and
//! signed requests, allocations, and the reconciliation endpoint that turns synced sales into
//! orders and tickets. See docs/server.md and docs/protocol.md; ARCHITECTURE.md maps the modules.

pub mod accounts;
pub mod admin;
pub mod admission;
pub mod allocations;
pub mod auth;
pub mod claims;
pub mod closeout;
pub mod config_version;
pub mod copy;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod device_config;
pub mod draw;
pub mod error;
pub mod failover;
pub mod http;
pub mod import;
pub mod ingest;
pub mod jurisdictions;
pub mod lifecycle;
pub mod metrics;
pub mod openapi;
pub mod perks;
pub mod purge;
pub mod report;
pub mod routes;
pub mod settings;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{AppError, AppResult};
pub use routes::{router, serve};
pub use state::AppState;
