//! What every handler shares: the database pool and the admin token's HMAC.

use sqlx::PgPool;

use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// HMAC key and tag of the admin token: the token is compared with `ring::hmac::verify`.
    pub admin_key: ring::hmac::Key,
    pub admin_tag: Option<Vec<u8>>,
    /// Admission control of journal pushes (`admission.rs`).
    pub push_gate: std::sync::Arc<crate::admission::PushGate>,
    /// Counters and histograms of `/metrics` (docs/server.md "Metrics").
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn new(pool: PgPool, admin_token: Option<&str>) -> Result<Self, AppError> {
        let secret = crate::crypto::random_bytes::<32>()?;
        let admin_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let admin_tag =
            admin_token.map(|t| ring::hmac::sign(&admin_key, t.as_bytes()).as_ref().to_vec());
        let push_gate = std::sync::Arc::new(crate::admission::PushGate::for_pool(
            pool.options().get_max_connections(),
        ));
        Ok(AppState {
            pool,
            admin_key,
            admin_tag,
            push_gate,
            metrics: Default::default(),
        })
    }
}
