//! Helpers for tests against a real PostgreSQL, public so other crates' tests (the sync engine)
//! can spawn the server too: a fresh database per test, the demo fixture, an enrolled simulated
//! device that builds hash-chained journal entries and signs requests, and a tiny HTTP/1.1 client
//! for tests over a real socket.
//!
//! The database comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! each [`TestDb`] creates its own database `rsu_t_<pid>_<n>` and drops it again. Databases left
//! by crashed test processes are dropped by the next run.
//!
//! Compiled only with the `testkit` feature (tests and benches), never in the product. Why this
//! file is over 600 lines: the simulated device (entries, payloads, signed requests) is one type.

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Datelike, Duration, Utc};
use rsu_core::journal::{ChainHash, EntryBody, EntryKind, JournalEntry};
use rsu_core::payload::{AllocationSegment, Payment, PaymentMethod, SalePayload, VoidPayload};
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rsu_core::wire::{self, DeviceKey, EnrollRequest, PushRequest};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

mod bench_event;
mod event_flow;
pub use bench_event::bench_org_and_event;
pub use event_flow::TEST_ADMIN_NAME;

use crate::settings::DEFAULT_DATABASE_URL;
use crate::state::AppState;

/// The admin token of test servers.
pub const TEST_ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into())
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => format!("{}/{db}{query}", &base[..after_scheme + i]),
        None => format!("{base}/{db}{query}"),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated database for one test.
pub struct TestDb {
    pub pool: PgPool,
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDb {
    pub async fn create() -> anyhow::Result<TestDb> {
        let admin_url = database_url();
        let mut admin = PgConnection::connect(&admin_url).await.with_context(|| {
            format!("cannot connect to PostgreSQL at {admin_url}: run scripts/ensure-postgres.sh")
        })?;
        // Drop databases of test processes that no longer run.
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'rsu\\_t\\_%'")
                .fetch_all(&mut admin)
                .await?;
        for n in names {
            let pid = n.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != std::process::id()
                    && !std::path::Path::new(&format!("/proc/{pid}")).exists()
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            }
        }
        let name = format!(
            "rsu_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            Uuid::now_v7().simple().to_string().get(20..).unwrap_or("x")
        );
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .context("CREATE DATABASE failed")?;
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect_with(PgConnectOptions::from_str(&url)?)
            .await?;
        crate::db::migrate(&pool).await?;
        Ok(TestDb {
            pool,
            name,
            url,
            admin_url,
        })
    }

    /// Closes the pool and drops the database.
    pub async fn drop_db(self) {
        self.pool.close().await;
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
        }
    }
}

/// A package of the demo event.
#[derive(Clone, Debug)]
pub struct Pkg {
    pub id: Uuid,
    pub name: String,
    pub ticket_count: u32,
    pub price: i64,
}

/// The demo, seeded, with one device enrolled.
pub struct Fixture {
    pub db: TestDb,
    pub state: AppState,
    pub router: Router,
    pub org_id: Uuid,
    pub event_id: Uuid,
    pub seller_id: Uuid,
    pub supervisor_id: Uuid,
    pub packages: Vec<Pkg>,
    pub device: TestDevice,
}

fn uuid_of(v: &Value, k: &str) -> anyhow::Result<Uuid> {
    v.get(k)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .with_context(|| format!("no {k} in {v}"))
}

impl Fixture {
    pub async fn new() -> anyhow::Result<Fixture> {
        let db = TestDb::create().await?;
        let seeded = crate::demo::demo_seed(&db.pool)
            .await
            .map_err(|e| anyhow::anyhow!("demo-seed: {e}"))?;
        let token = seeded
            .get("enrollmentToken")
            .and_then(Value::as_str)
            .context("no token")?
            .to_string();
        let event_id = uuid_of(&seeded, "eventId")?;
        let packages: Vec<(Uuid, String, i32, i64)> = sqlx::query_as(
            "SELECT id, name, ticket_count, price FROM ticket_packages WHERE event_id = $1 ORDER BY ticket_count",
        )
        .bind(event_id)
        .fetch_all(&db.pool)
        .await?;
        let packages = packages
            .into_iter()
            .map(|(id, name, tc, price)| Pkg {
                id,
                name,
                ticket_count: tc as u32,
                price,
            })
            .collect();
        let device = TestDevice::enroll(&db.pool, &token, "MAC:00:00:00:00:00:01").await?;
        let state = AppState::new(db.pool.clone(), Some(TEST_ADMIN_TOKEN))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Fixture {
            router: crate::routes::router(state.clone()),
            state,
            org_id: uuid_of(&seeded, "organizationId")?,
            event_id,
            seller_id: uuid_of(&seeded, "sellerId")?,
            supervisor_id: uuid_of(&seeded, "supervisorId")?,
            packages,
            device,
            db,
        })
    }

    /// The package of `n` tickets.
    pub fn pkg(&self, n: u32) -> Pkg {
        self.packages
            .iter()
            .find(|p| p.ticket_count == n)
            .cloned()
            .unwrap_or_else(|| Pkg {
                id: Uuid::nil(),
                name: "none".into(),
                ticket_count: n,
                price: 0,
            })
    }

    /// Sends a request through the router (no socket) and returns status and JSON body.
    pub async fn send(&self, req: Request<Body>) -> anyhow::Result<(StatusCode, Value)> {
        send(&self.router, req).await
    }

    /// Signs and pushes `entries` for the fixture's device.
    pub async fn push(&self, entries: &[JournalEntry]) -> anyhow::Result<(StatusCode, Value)> {
        let req = self.device.push_request(entries)?;
        self.send(req).await
    }

    /// Counts rows: `SELECT COUNT(*) FROM <from_where>`.
    pub async fn count(&self, from_where: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {from_where}"))
                .fetch_one(&self.db.pool)
                .await?,
        )
    }

    /// A sale of package `pkg` with the device's next draw numbers, chained.
    pub fn sale(&mut self, pkg_tickets: u32) -> JournalEntry {
        let pkg = self.pkg(pkg_tickets);
        let event = self.event_id;
        let seller = self.seller_id;
        let numbers = self.device.take_numbers(pkg.ticket_count);
        let s = self.device.sale_payload(event, &pkg, numbers, seller);
        self.device.entry(
            EntryKind::Sale,
            serde_json::to_value(s).unwrap_or(Value::Null),
        )
    }

    pub async fn drop_db(self) {
        self.db.drop_db().await;
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> anyhow::Result<(StatusCode, Value)> {
    use tower::ServiceExt;
    let res = router.clone().oneshot(req).await?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((status, v))
}

/// A simulated enrolled device: its key, identity, and the state of its journal.
pub struct TestDevice {
    pub key: DeviceKey,
    pub rsu_id: Uuid,
    pub key_id: Uuid,
    pub epoch: i64,
    pub rsu_no: u32,
    pub prefix: String,
    pub validation_key: ValidationKey,
    pub next_seq: u64,
    pub prev_hash: ChainHash,
    pub next_sale_seq: u64,
    pub next_number: i64,
    /// Seconds added to the clock when signing (to simulate skew).
    pub clock_offset: i64,
    /// This RSU's allocations as the server holds them (id, event id, start, end): sale payloads
    /// name the allocation of each number. [`TestDevice::refresh_allocations`] reloads them.
    pub allocations: Vec<(Uuid, Uuid, i64, i64)>,
}

impl TestDevice {
    /// Enrolls through the same function the endpoint uses.
    pub async fn enroll(
        pool: &PgPool,
        token: &str,
        device_identifier: &str,
    ) -> anyhow::Result<TestDevice> {
        let key = DeviceKey::generate()?;
        let res = crate::routes::device::enroll::enroll_device(
            pool,
            &EnrollRequest {
                token: token.into(),
                public_key: key.public_key_hex(),
                device_identifier: device_identifier.into(),
                app_version: "test".into(),
                app_hash: "0".repeat(64),
                continuity: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("enroll: {e}"))?;
        let mut d = TestDevice {
            key,
            rsu_id: res.rsu_id,
            key_id: res.key_id,
            epoch: res.epoch,
            rsu_no: res.rsu_no,
            prefix: res.validation_number_prefix,
            validation_key: ValidationKey::from_hex(&res.validation_key)?,
            next_seq: 1,
            prev_hash: ChainHash::GENESIS,
            next_sale_seq: 1,
            next_number: 1001,
            clock_offset: 0,
            allocations: vec![],
        };
        d.refresh_allocations(pool).await?;
        Ok(d)
    }

    /// Reloads this RSU's allocations from the server's database (after a test made new ones).
    pub async fn refresh_allocations(&mut self, pool: &PgPool) -> anyhow::Result<()> {
        let rows: Vec<(Uuid, Uuid, i32, i32)> = sqlx::query_as(
            "SELECT id, event_id, start_number, end_number FROM rsu_allocations
              WHERE rsu_id = $1 ORDER BY start_number",
        )
        .bind(self.rsu_id)
        .fetch_all(pool)
        .await?;
        self.allocations = rows
            .into_iter()
            .map(|(id, ev, s, e)| (id, ev, i64::from(s), i64::from(e)))
            .collect();
        Ok(())
    }

    /// The segments of `numbers` as a device makes them: one per run of consecutive numbers of
    /// one allocation (the nil id for numbers outside every known allocation).
    pub fn segments_of(&self, event_id: Uuid, numbers: &[i64]) -> Vec<AllocationSegment> {
        let alloc_of = |n: i64| {
            self.allocations
                .iter()
                .find(|(_, ev, s, e)| *ev == event_id && n >= *s && n <= *e)
                .map_or(Uuid::nil(), |a| a.0)
        };
        let mut out: Vec<AllocationSegment> = vec![];
        for &n in numbers {
            let id = alloc_of(n);
            match out.last_mut() {
                Some(seg) if seg.allocation_id == id && seg.end_number + 1 == n => {
                    seg.end_number = n;
                }
                _ => out.push(AllocationSegment {
                    allocation_id: id,
                    start_number: n,
                    end_number: n,
                }),
            }
        }
        out
    }

    pub fn take_numbers(&mut self, n: u32) -> Vec<i64> {
        let v: Vec<i64> = (self.next_number..self.next_number + i64::from(n)).collect();
        self.next_number += i64::from(n);
        v
    }

    /// A valid sale payload for `numbers` (which the caller took from an allocation).
    pub fn sale_payload(
        &mut self,
        event_id: Uuid,
        pkg: &Pkg,
        numbers: Vec<i64>,
        operator: Uuid,
    ) -> SalePayload {
        let sale_seq = self.next_sale_seq;
        self.next_sale_seq += 1;
        let sold_at = Utc::now() - Duration::seconds(1);
        let vn = ValidationNumber::issue(
            &self.validation_key,
            &self.prefix,
            self.rsu_no,
            sold_at.year(),
            sale_seq,
        )
        .map(|v| v.to_string())
        .unwrap_or_default();
        let segments = self.segments_of(event_id, &numbers);
        let packs = i64::from((numbers.len() as u32).max(1) / pkg.ticket_count.max(1));
        SalePayload {
            perks: vec![],
            local_id: Uuid::now_v7(),
            event_id,
            allocation_id: segments.first().map_or(Uuid::nil(), |s| s.allocation_id),
            segments,
            validation_number: vn,
            sale_seq,
            ticket_count: numbers.len() as u32,
            draw_numbers: numbers,
            package_id: pkg.id,
            package_name: pkg.name.clone(),
            unit_price: pkg.price,
            total_amount: pkg.price * packs.max(1),
            currency: "USD".into(),
            payment: Payment {
                method: PaymentMethod::Cash,
                reference: None,
            },
            customer_info: None,
            operator_id: operator,
            shift_id: None,
            sold_at,
        }
    }

    pub fn void_payload(sale: &SalePayload, supervisor: Uuid) -> VoidPayload {
        VoidPayload {
            local_id: sale.local_id,
            validation_number: sale.validation_number.clone(),
            reason: "customer changed their mind".into(),
            operator_id: sale.operator_id,
            supervisor_id: supervisor,
            voided_at: Utc::now(),
        }
    }

    /// The next journal entry, chained after the previous one.
    pub fn entry(&mut self, kind: EntryKind, payload: Value) -> JournalEntry {
        self.entry_at(kind, payload, Utc::now())
    }

    pub fn entry_at(
        &mut self,
        kind: EntryKind,
        payload: Value,
        created_at: DateTime<Utc>,
    ) -> JournalEntry {
        let body = EntryBody {
            epoch: self.epoch,
            seq: self.next_seq,
            entry_id: Uuid::now_v7(),
            kind,
            created_at,
            payload,
        };
        let e = match body.clone().chain(self.prev_hash) {
            Ok(e) => e,
            // Floats cannot be chained; tests that want them build entries by hand.
            Err(_) => JournalEntry {
                body,
                prev_hash: self.prev_hash,
                hash: ChainHash::GENESIS,
            },
        };
        self.next_seq += 1;
        self.prev_hash = e.hash;
        e
    }

    /// A signed request with the device's (offset) clock and a fresh nonce.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Request<Body>> {
        let h = wire::sign_request(
            &self.key,
            self.rsu_id,
            self.key_id,
            method,
            path,
            &body,
            Utc::now().timestamp() + self.clock_offset,
        )?;
        self.request_with(method, path, body, &h)
    }

    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        h: &wire::SignatureHeaders,
    ) -> anyhow::Result<Request<Body>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        for (k, v) in h.pairs() {
            b = b.header(k, v);
        }
        Ok(b.body(Body::from(body))?)
    }

    pub fn push_body(&self, entries: &[JournalEntry]) -> anyhow::Result<Vec<u8>> {
        Ok(serde_json::to_vec(&PushRequest {
            epoch: self.epoch,
            entries: entries.to_vec(),
        })?)
    }

    pub fn push_request(&self, entries: &[JournalEntry]) -> anyhow::Result<Request<Body>> {
        self.request("POST", wire::PATH_JOURNAL, self.push_body(entries)?)
    }

    /// `(name, value)` headers of a signed request, for raw-socket clients.
    pub fn signed_headers(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<Vec<(String, String)>> {
        let h = wire::sign_request(
            &self.key,
            self.rsu_id,
            self.key_id,
            method,
            path,
            body,
            Utc::now().timestamp(),
        )?;
        Ok(h.pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect())
    }
}

/// A server on a real socket (127.0.0.1, a free port) for the lifetime of the value.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn spawn(state: AppState) -> anyhow::Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::routes::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            base_url: format!("http://{addr}"),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Ends the server at once, as a crashed process would: its open connections are dropped
    /// without an answer.
    pub fn kill(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// One HTTP/1.1 request over a new TCP connection (`Connection: close`); returns status and body.
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> anyhow::Result<(u16, Value)> {
    let (status, _, v) = http_request_full(addr, method, path, headers, body).await?;
    Ok((status, v))
}

/// [`http_request`], with the answer's headers (names in lower case).
pub async fn http_request_full(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> anyhow::Result<(u16, Vec<(String, String)>, Value)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    // A server may answer (413) and close before reading the whole body: read its answer anyway.
    let wrote = s.write_all(body).await;
    let mut buf = Vec::new();
    let read = s.read_to_end(&mut buf).await;
    if buf.is_empty() {
        wrote?;
        read?;
    }
    let text = String::from_utf8_lossy(&buf);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        bail!(
            "no HTTP response (connection closed after {} bytes)",
            buf.len()
        );
    };
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body_text = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let answer_headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let v = serde_json::from_str(&body_text).unwrap_or(Value::String(body_text));
    Ok((status, answer_headers, v))
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
