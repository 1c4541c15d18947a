//! The device's sync engine (DESIGN §6) and the library behind `rsu-syncd`.
//!
//! The shape follows atuin's sync: [`plan::plan`] is a pure function from what the device knows
//! (its store) and what the server last said to the list of operations to do next, tested as a
//! table; [`engine::Engine`] is the thin loop that performs them over HTTP with signed requests
//! and records every answer in the store. Every write the engine makes is idempotent, so a crash
//! or a lost answer at any point is repaired by simply doing the same thing again.
//!
//! - [`enroll::enroll`]: first contact with a one-time token (key pair, identity, first config).
//! - [`engine::Engine`]: push the journal, pull configuration, top up allocations, heartbeat.
//! - [`client::Client`]: signed requests, clock offset from the server's time, error mapping.
//! - [`crash`]: named crash points for the kill tests (`RSU_SYNCD_CRASH_AT`).
//! - [`lock::DaemonLock`]: one daemon per device database.

pub mod backoff;
pub mod client;
pub mod crash;
pub mod engine;
pub mod enroll;
pub mod error;
pub mod export;
pub mod keyfile;
pub mod lock;
pub mod plan;
pub mod settings;
pub mod status;

pub use engine::{Engine, RoundReport};
pub use enroll::{enroll, enroll_async, EnrollReport};
pub use error::SyncError;
pub use settings::Settings;

/// The version sent in enrollment and heartbeats.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
