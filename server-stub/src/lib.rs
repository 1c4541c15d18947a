//! The companion server of the raffle sales units: PostgreSQL schema, device enrollment and
//! signed requests, allocations, and the reconciliation endpoint that turns synced sales into
//! orders and tickets. See docs/server.md and docs/protocol.md.

pub mod admin;
pub mod app;
pub mod auth;
pub mod claims;
pub mod closeout;
pub mod copy;
pub mod db;
pub mod device;
pub mod draw;
pub mod error;
pub mod import;
pub mod ingest;
pub mod lifecycle;
pub mod report;
pub mod settings;
pub mod testkit;

pub use app::{router, serve, AppState};
pub use error::{AppError, AppResult};
