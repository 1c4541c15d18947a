//! `/metrics` in the Prometheus (OpenMetrics) text format, served on its own address
//! (`serve --metrics-addr`, docs/server.md "Metrics") so it is never public with the API.
//!
//! Counters and the ingest latency histogram live in [`Metrics`] (one per server, in
//! [`AppState`]) and are moved by the journal push handler; the gauges (devices by freshness of
//! their last heartbeat, pending entries per event, database pool use) are computed at scrape
//! time with a few indexed queries, so a scrape always shows the database's present state.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use rsu_core::wire::PushResponse;
use sqlx::PgPool;
use std::time::Duration;
use tokio::net::TcpListener;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The environment variable of `serve --metrics-addr`.
pub const METRICS_ADDR_ENV: &str = "SERVER_STUB_METRICS_ADDR";

/// The content type of the OpenMetrics text format that Prometheus scrapes.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Freshness buckets of a device's last heartbeat, in the order they are reported.
pub const FRESHNESS: [&str; 5] = ["under_1m", "under_5m", "under_1h", "over_1h", "never"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PushLabels {
    /// `accepted`, or the request-level error code the push was refused with (`gap`, `clock_skew`…).
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryLabels {
    /// The entry's status: `applied`, `duplicate`, `conflict` or `rejected`.
    result: String,
    /// The entry code of a rejection or conflict (`price_mismatch`…), empty otherwise.
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    organization: String,
    freshness: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    organization: String,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    /// `idle` or `in_use`.
    state: String,
}

/// The server's metrics; see the module documentation.
pub struct Metrics {
    registry: Registry,
    pushes: Family<PushLabels, Counter>,
    entries: Family<EntryLabels, Counter>,
    push_seconds: Histogram,
    devices: Family<DeviceLabels, Gauge>,
    pending: Family<EventLabels, Gauge>,
    oldest_pending: Family<EventLabels, Gauge>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    /// One scrape at a time: a scrape clears and refills the gauges.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rsu");
        let pushes = Family::<PushLabels, Counter>::default();
        registry.register(
            "pushes",
            "Journal pushes (POST /v1/rsu/journal) by result: accepted, or the error code they were refused with",
            pushes.clone(),
        );
        let entries = Family::<EntryLabels, Counter>::default();
        registry.register(
            "journal_entries",
            "Journal entries answered by accepted pushes, by result (applied, duplicate, conflict, rejected) and entry code",
            entries.clone(),
        );
        // 5 ms to about 20 s.
        let push_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 13));
        registry.register_with_unit(
            "push_duration",
            "Time to answer an authenticated journal push (ingest and reconciliation)",
            Unit::Seconds,
            push_seconds.clone(),
        );
        let devices = Family::<DeviceLabels, Gauge>::default();
        registry.register(
            "devices",
            "RSUs in use (not lost or decommissioned) per organization, by the age of their last heartbeat",
            devices.clone(),
        );
        let pending = Family::<EventLabels, Gauge>::default();
        registry.register(
            "pending_entries",
            "Journal entries the RSUs holding an allocation of an open event reported as not yet acknowledged (last heartbeats)",
            pending.clone(),
        );
        let oldest_pending = Family::<EventLabels, Gauge>::default();
        registry.register_with_unit(
            "oldest_pending_age",
            "Age of the oldest unacknowledged entry any RSU of an open event reported (last heartbeats)",
            Unit::Seconds,
            oldest_pending.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Open database connections of the server's pool, idle or in use",
            pool_connections.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections the pool opens (max_connections)",
            pool_max.clone(),
        );
        Metrics {
            registry,
            pushes,
            entries,
            push_seconds,
            devices,
            pending,
            oldest_pending,
            pool_connections,
            pool_max,
            scrape: tokio::sync::Mutex::new(()),
        }
    }

    /// Records one journal push: its result, the entries' results, and (for an authenticated
    /// push) how long it took.
    pub fn observe_push(&self, outcome: Result<&PushResponse, &AppError>, took: Option<Duration>) {
        let result = match outcome {
            Ok(r) => {
                for e in &r.results {
                    self.entries
                        .get_or_create(&EntryLabels {
                            result: e.status.as_str().to_string(),
                            code: e.code.map(|c| c.as_str().to_string()).unwrap_or_default(),
                        })
                        .inc();
                }
                "accepted".to_string()
            }
            Err(e) => e.code.to_string(),
        };
        self.pushes.get_or_create(&PushLabels { result }).inc();
        if let Some(t) = took {
            self.push_seconds.observe(t.as_secs_f64());
        }
    }

    /// The metrics as OpenMetrics text, with the gauges read from the database now.
    pub async fn render(&self, pool: &PgPool) -> AppResult<String> {
        let _one = self.scrape.lock().await;
        self.refresh_gauges(pool).await?;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| AppError::internal("encoding metrics", e))?;
        Ok(out)
    }

    async fn refresh_gauges(&self, pool: &PgPool) -> AppResult<()> {
        // The latest heartbeat of any epoch of each RSU in use (the primary key of rsu_epochs
        // starts with rsu_id).
        let devices: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT r.organization_id::text,
                    CASE WHEN hb.at IS NULL THEN 'never'
                         WHEN hb.at > NOW() - INTERVAL '1 minute' THEN 'under_1m'
                         WHEN hb.at > NOW() - INTERVAL '5 minutes' THEN 'under_5m'
                         WHEN hb.at > NOW() - INTERVAL '1 hour' THEN 'under_1h'
                         ELSE 'over_1h' END,
                    COUNT(*)
               FROM rsus r
               LEFT JOIN LATERAL (SELECT MAX(e.last_heartbeat_at) AS at
                                    FROM rsu_epochs e WHERE e.rsu_id = r.id) hb ON TRUE
              WHERE r.state NOT IN ('lost', 'decommissioned')
              GROUP BY 1, 2",
        )
        .fetch_all(pool)
        .await?;
        self.devices.clear();
        for org in devices.iter().map(|d| &d.0) {
            for f in FRESHNESS {
                // Creates the bucket at 0, so every bucket is reported.
                let _ = self.devices.get_or_create(&DeviceLabels {
                    organization: org.clone(),
                    freshness: f.to_string(),
                });
            }
        }
        for (organization, freshness, n) in devices {
            self.devices
                .get_or_create(&DeviceLabels {
                    organization,
                    freshness,
                })
                .set(n);
        }
        // Events still open for sales or close-out, with the RSUs holding an allocation of them
        // (an RSU selling for two events counts in both) and their current epoch's heartbeat.
        let pending: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT ev.organization_id::text, ev.id::text,
                    COALESCE(SUM(e.pending_count), 0)::BIGINT,
                    COALESCE(MAX(e.oldest_pending_age_secs), 0)::BIGINT
               FROM events ev
               JOIN (SELECT DISTINCT event_id, rsu_id FROM rsu_allocations) a ON a.event_id = ev.id
               JOIN rsus r ON r.id = a.rsu_id
               LEFT JOIN rsu_epochs e ON e.rsu_id = r.id AND e.epoch = r.current_epoch
              WHERE ev.state NOT IN ('completed', 'cancelled')
              GROUP BY ev.organization_id, ev.id",
        )
        .fetch_all(pool)
        .await?;
        self.pending.clear();
        self.oldest_pending.clear();
        for (organization, event, count, oldest) in pending {
            let l = EventLabels {
                organization,
                event,
            };
            self.pending.get_or_create(&l).set(count);
            self.oldest_pending.get_or_create(&l).set(oldest);
        }
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        for (state, n) in [("idle", idle), ("in_use", (size - idle).max(0))] {
            self.pool_connections
                .get_or_create(&PoolLabels {
                    state: state.to_string(),
                })
                .set(n);
        }
        self.pool_max
            .set(i64::from(pool.options().get_max_connections()));
        Ok(())
    }
}

async fn scrape(State(st): State<AppState>) -> Response {
    match st.metrics.render(&st.pool).await {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The metrics listener's routes: `GET /metrics` only.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .layer(axum::middleware::map_response(log_internal))
        .with_state(state)
}

async fn log_internal(res: Response) -> Response {
    if let Some(i) = res.extensions().get::<crate::error::Internal>() {
        i.log();
    }
    res
}

/// Serves `/metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
