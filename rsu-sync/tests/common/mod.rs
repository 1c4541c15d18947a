//! The end-to-end harness: a real server-stub on a fresh PostgreSQL database (in its own tokio
//! runtime, so it can be killed mid-request like a crashed process), a fault-injecting HTTP proxy
//! in front of it, an enrolled device database, and the checker that compares the device's
//! journal and sales with the server's `device_journal`, `orders` and `tickets`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rsu_store::testkit;
use rsu_store::{SaleRequest, Store};
use rsu_sync::Settings;
use serde_json::Value;
use server_stub::testkit::{TestDb, TEST_ADMIN_TOKEN};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

pub const SELLER_PIN: &str = "1111";
pub const SUPERVISOR_PIN: &str = "9999";

/// `RSU_<NAME>` as a number, or the default.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The server, in a runtime of its own
// ---------------------------------------------------------------------------------------------

/// Sets the calling thread's nice value (Linux keeps one per thread); a warning if it cannot.
pub fn nice_this_thread(nice: i32) {
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|t| t.to_string_lossy().into_owned()));
    renice(nice, tid.as_slice());
}

/// `renice -n nice -p ids…` (threads or processes); a warning if it cannot.
pub fn renice(nice: i32, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let ok = std::process::Command::new("renice")
        .args(["-n", &nice.to_string(), "-p"])
        .args(ids)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("warning: could not renice {ids:?} to {nice}");
    }
}

/// server-stub serving on 127.0.0.1. [`Server::kill`] drops its runtime: every in-flight request
/// dies at its next await and its database connections close, so an uncommitted batch rolls
/// back, as when the server process is killed.
pub struct Server {
    pub addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

impl Server {
    pub fn start(db_url: &str) -> Server {
        Server::start_niced(db_url, 0)
    }

    /// Like [`Server::start`], its threads at `nice` (benchmarks: a server that is elsewhere on
    /// a real site should not take the device's CPU here).
    pub fn start_niced(db_url: &str, nice: i32) -> Server {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .on_thread_start(move || {
                if nice != 0 {
                    nice_this_thread(nice);
                }
            })
            .enable_all()
            .build()
            .unwrap();
        let url = db_url.to_string();
        rt.spawn(async move {
            let pool = server_stub::db::connect(&url, 8)
                .await
                .expect("server pool");
            let state = server_stub::AppState::new(pool, Some(TEST_ADMIN_TOKEN)).expect("state");
            let listener = TcpListener::from_std(std_listener).expect("listener");
            let _ = server_stub::serve(listener, state, std::future::pending()).await;
        });
        Server { addr, rt: Some(rt) }
    }

    pub fn kill(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fault-injecting proxy
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Read the request head, then reset the connection (RST) before the body: the server
    /// never sees the request.
    ResetMidRequest,
    /// Forward; the server commits and answers; close the connection without a byte back.
    DropResponse,
    /// Forward, then hold the connection open without answering for this long.
    Stall(Duration),
    /// Answer this status without forwarding (503, 429).
    Status(u16),
    /// Answer 503 `server_busy` with `Retry-After: n` without forwarding (admission control).
    Busy(u64),
    /// Forward (the server commits), then answer this status instead (500).
    StatusAfterCommit(u16),
    /// Forward, then send the head with the full Content-Length but only half the body, and close.
    TruncateBody,
    /// Forward, and answer with `X-Rsu-Batch-Max: n` in place of the server's (a busy queue).
    BatchMax(usize),
}

#[derive(Default)]
struct ProxyState {
    faults: VecDeque<(String, Fault)>,
    /// Faults applied to every matching request until cleared.
    sticky: Option<(String, Fault)>,
    requests: HashMap<String, u64>,
    faults_applied: u64,
}

/// An HTTP/1.1 proxy that forwards one request per connection to the current upstream and
/// injects the queued faults.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    state: Arc<Mutex<ProxyState>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, upstream)
    }

    fn start_on(listener: TcpListener, upstream: SocketAddr) -> Proxy {
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let task = Some(spawn_accept(listener, upstream.clone(), state.clone()));
        Proxy {
            addr,
            upstream,
            state,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening: connections are refused until [`Proxy::resume`].
    pub fn refuse(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn resume(&mut self) {
        if self.task.is_none() {
            let mut tries = 0;
            let listener = loop {
                match TcpListener::bind(self.addr).await {
                    Ok(l) => break l,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("cannot rebind the proxy on {}: {e}", self.addr),
                }
            };
            self.task = Some(spawn_accept(
                listener,
                self.upstream.clone(),
                self.state.clone(),
            ));
        }
    }

    pub fn set_upstream(&self, addr: SocketAddr) {
        *self.upstream.lock().unwrap() = addr;
    }

    /// The next request whose path starts with `path` gets `fault`.
    pub fn push_fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((path.into(), fault));
    }

    /// Every request whose path starts with `path` gets `fault` until [`Proxy::clear`].
    pub fn always(&self, path: &str, fault: Fault) {
        self.state.lock().unwrap().sticky = Some((path.into(), fault));
    }

    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.faults.clear();
        s.sticky = None;
    }

    pub fn requests(&self, path: &str) -> u64 {
        *self.state.lock().unwrap().requests.get(path).unwrap_or(&0)
    }

    pub fn faults_applied(&self) -> u64 {
        self.state.lock().unwrap().faults_applied
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn spawn_accept(
    listener: TcpListener,
    upstream: Arc<Mutex<SocketAddr>>,
    state: Arc<Mutex<ProxyState>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let up = *upstream.lock().unwrap();
            let st = state.clone();
            conns.spawn(async move {
                let _ = handle(sock, up, st).await;
            });
            while conns.try_join_next().is_some() {}
        }
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
) -> std::io::Result<()> {
    // The request head.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let fault = {
        let mut s = state.lock().unwrap();
        *s.requests.entry(path.clone()).or_default() += 1;
        let pos = s
            .faults
            .iter()
            .position(|(p, _)| path.starts_with(p.as_str()));
        let f = match pos {
            Some(i) => s.faults.remove(i).map(|(_, f)| f),
            None => s
                .sticky
                .as_ref()
                .filter(|(p, _)| path.starts_with(p.as_str()))
                .map(|(_, f)| f.clone()),
        };
        if f.is_some() {
            s.faults_applied += 1;
        }
        f
    };
    if fault == Some(Fault::ResetMidRequest) {
        client.set_zero_linger()?;
        drop(client);
        return Ok(());
    }
    if let Some(Fault::Status(code)) = fault {
        return answer(&mut client, code).await;
    }
    if let Some(Fault::Busy(secs)) = fault {
        let body = r#"{"error":"server_busy","message":"the server is busy"}"#;
        let resp = format!(
            "HTTP/1.1 503 Busy\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: {secs}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(resp.as_bytes()).await?;
        return client.shutdown().await;
    }
    // The body.
    let want = head_end + content_length(&head);
    while buf.len() < want {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // Forward with `Connection: close` and read the answer to EOF.
    let mut new_head = String::new();
    for line in head.trim_end().split("\r\n") {
        if line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(new_head.as_bytes()).await?;
    up.write_all(&buf[head_end..want]).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
    match fault {
        None => {
            client.write_all(&resp).await?;
            client.shutdown().await?;
        }
        Some(Fault::DropResponse) => {
            drop(client);
        }
        Some(Fault::Stall(d)) => {
            tokio::time::sleep(d).await;
            drop(client);
        }
        Some(Fault::StatusAfterCommit(code)) => answer(&mut client, code).await?,
        Some(Fault::TruncateBody) => {
            let split = find(&resp, b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
            let body_len = resp.len() - split;
            client.write_all(&resp[..split + body_len / 2]).await?;
            client.flush().await?;
            client.set_zero_linger()?;
            drop(client);
        }
        Some(Fault::BatchMax(n)) => {
            let split = find(&resp, b"\r\n\r\n").map_or(resp.len(), |i| i + 2);
            let head = String::from_utf8_lossy(&resp[..split]);
            let mut out = String::new();
            for line in head.split_inclusive("\r\n") {
                if !line.to_ascii_lowercase().starts_with("x-rsu-batch-max:") {
                    out.push_str(line);
                }
            }
            out.push_str(&format!("x-rsu-batch-max: {n}\r\n"));
            client.write_all(out.as_bytes()).await?;
            client.write_all(&resp[split..]).await?;
            client.shutdown().await?;
        }
        Some(Fault::ResetMidRequest | Fault::Status(_) | Fault::Busy(_)) => {}
    }
    Ok(())
}

async fn answer(client: &mut TcpStream, code: u16) -> std::io::Result<()> {
    let body =
        format!(r#"{{"error":"injected_{code}","message":"fault injected by the test proxy"}}"#);
    let mut extra = String::new();
    if code == 429 {
        extra.push_str("Retry-After: 1\r\n");
    }
    let resp = format!(
        "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(resp.as_bytes()).await?;
    client.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// The world: server, proxy, enrolled device
// ---------------------------------------------------------------------------------------------

pub struct World {
    pub db: Option<TestDb>,
    pub server: Option<Server>,
    pub proxy: Proxy,
    pub dir: tempfile::TempDir,
    pub device_db: PathBuf,
    pub event_id: Uuid,
    pub rsu_id: Uuid,
    pub token_used: String,
}

pub struct WorldOptions {
    /// Extra draw numbers allocated to the device before enrollment (beyond the demo's 200).
    pub extra_numbers: i64,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            extra_numbers: 20_000,
        }
    }
}

impl World {
    pub async fn new(opts: WorldOptions) -> World {
        let db = TestDb::create().await.expect("test database");
        let seeded = server_stub::demo::demo_seed(&db.pool).await.expect("seed");
        let id = |k: &str| Uuid::parse_str(seeded[k].as_str().unwrap()).unwrap();
        let event_id = id("eventId");
        let rsu_id = id("rsuId");
        let token = seeded["enrollmentToken"].as_str().unwrap().to_string();
        // Room for long offline runs: the demo RSU allows 500 offline tickets.
        sqlx::query(
            "UPDATE rsus SET configuration = configuration || '{\"maxOfflineTickets\": 10000000}'::jsonb WHERE id = $1",
        )
        .bind(rsu_id)
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query("UPDATE organizations SET config_version = config_version + 1")
            .execute(&db.pool)
            .await
            .unwrap();
        if opts.extra_numbers > 0 {
            server_stub::admin::create_allocation(
                &db.pool,
                &server_stub::admin::NewAllocation {
                    event_id,
                    rsu_id,
                    start_number: Some(1201),
                    end_number: Some(1200 + opts.extra_numbers),
                    count: None,
                },
            )
            .await
            .expect("allocation");
        }
        let server = Server::start(&db.url);
        let proxy = Proxy::start(server.addr).await;
        let dir = tempfile::tempdir().unwrap();
        let device_db = dir.path().join("rsu.sqlite3");
        let report = rsu_sync::enroll_async(&device_db, &proxy.url(), &token)
            .await
            .expect("enrollment");
        assert!(report.config_version.is_some(), "{report}");
        let mut store = Store::open_existing(&device_db).unwrap();
        store.login(SELLER_PIN, None).expect("seller login");
        World {
            db: Some(db),
            server: Some(server),
            proxy,
            dir,
            device_db,
            event_id,
            rsu_id,
            token_used: token,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.db.as_ref().unwrap().pool
    }

    pub fn db_url(&self) -> String {
        self.db.as_ref().unwrap().url.clone()
    }

    /// Settings for a fast test engine.
    pub fn settings(&self) -> Settings {
        Settings {
            db: Some(self.device_db.clone()),
            server: None,
            batch_size: 100,
            request_timeout_secs: 2.0,
            connect_timeout_secs: 1.0,
            poll_interval_ms: 20,
            pull_interval_secs: 300,
            heartbeat_interval_secs: 60,
            backoff_base_ms: 10,
            backoff_cap_ms: 100,
        }
    }

    pub fn engine(&self) -> rsu_sync::Engine {
        rsu_sync::Engine::open(&self.device_db, &self.settings()).expect("engine")
    }

    pub fn store(&self) -> Store {
        Store::open_existing(&self.device_db).unwrap()
    }

    /// Kills the server and starts a new one on a fresh port behind the same proxy.
    pub fn restart_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.kill();
        }
        let s = Server::start(&self.db_url());
        self.proxy.set_upstream(s.addr);
        self.server = Some(s);
    }

    pub async fn drop_db(mut self) {
        if let Some(s) = self.server.take() {
            s.kill();
        }
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }
}

/// Sells `n` 1-ticket sales (receipts marked printed); returns the sales.
pub fn sell(store: &mut Store, n: usize) -> Vec<rsu_store::Sale> {
    let package = one_ticket_package(store);
    (0..n).map(|_| testkit::sell_ok(store, package)).collect()
}

pub fn one_ticket_package(store: &Store) -> Uuid {
    testkit::package_on_sale(store, 1)
}

/// A cash sale of a package (the shared `rsu_store::testkit` one).
pub fn cash(package_id: Uuid) -> SaleRequest {
    testkit::cash(package_id)
}

/// Gives the device a range the server never allocated, lower than its real ones, so the next
/// `n` sales take numbers from it and the server rejects them (`draw_number_not_allocated`).
pub fn plant_foreign_allocation(store: &mut Store, event_id: Uuid, n: i64) {
    let json: String = store
        .connection()
        .query_row("SELECT config_json FROM settings WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut cfg: rsu_core::config::DeviceConfig = serde_json::from_str(&json).unwrap();
    cfg.allocations = vec![rsu_core::config::AllocationConfig {
        id: Uuid::now_v7(),
        event_id,
        start_number: 900,
        end_number: 900 + n - 1,
        state: "active".into(),
        next_number: None,
    }];
    cfg.commands.clear();
    assert!(store.apply_config(&cfg).unwrap());
}

/// Rounds until nothing is pending (or `max` rounds); returns the rounds run.
pub async fn drain(engine: &mut rsu_sync::Engine, max: usize) -> usize {
    for i in 1..=max {
        let r = engine.round_now().await;
        if r.fully_synced() {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("not synced after {max} rounds");
}

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

/// What the comparison of the device with the server found. Every `*_bad` count must be 0.
#[derive(Debug, Default, Clone)]
pub struct Check {
    pub device_entries: u64,
    pub device_pending: u64,
    pub device_sales: u64,
    pub device_voids: u64,
    pub device_rejected: u64,
    pub server_entries: u64,
    pub server_orders: u64,
    pub server_voided_orders: u64,
    pub server_rejected: u64,
    /// Answered on the server, still pending on the device (a lost answer; repaired by resending).
    pub answered_but_pending: u64,
    /// The device recorded an answer the server does not hold: must be 0.
    pub acked_but_lost_bad: u64,
    /// Device and server disagree on an entry's status, code or hash: must be 0.
    pub mismatch_bad: u64,
    /// A sale the server applied that is not exactly one order with exactly its tickets: must be 0.
    pub order_bad: u64,
    /// Orders of this RSU that no device sale explains, or more than one per sale: must be 0.
    pub duplicate_or_orphan_bad: u64,
    /// A void the server applied whose order or tickets are not voided (or the reverse): must be 0.
    pub void_bad: u64,
    /// Holes in the server's seqs: must be 0.
    pub gap_bad: u64,
    pub problems: Vec<String>,
}

impl Check {
    pub fn assert_consistent(&self) {
        assert!(
            self.acked_but_lost_bad == 0
                && self.mismatch_bad == 0
                && self.order_bad == 0
                && self.duplicate_or_orphan_bad == 0
                && self.void_bad == 0
                && self.gap_bad == 0,
            "checker found problems: {self:#?}"
        );
    }

    /// Consistent, and every entry synced: both sides hold exactly the same journal.
    pub fn assert_synced(&self) {
        self.assert_consistent();
        assert_eq!(self.device_pending, 0, "{self:#?}");
        assert_eq!(self.answered_but_pending, 0, "{self:#?}");
        assert_eq!(self.device_entries, self.server_entries, "{self:#?}");
        assert_eq!(self.device_rejected, self.server_rejected, "{self:#?}");
        assert_eq!(
            self.device_sales - self.device_rejected_sales(),
            self.server_orders,
            "{self:#?}"
        );
    }

    fn device_rejected_sales(&self) -> u64 {
        // Only sales are rejected in these tests.
        self.device_rejected
    }
}

struct DevEntry {
    kind: String,
    status: String,
    code: Option<String>,
    hash: String,
}

/// Compares the device database with the server's tables for this RSU.
/// Every epoch the device's journal holds (a database continued after a recovery enrollment
/// holds more than one) is compared with what the server holds for that epoch.
pub async fn check(device_db: &std::path::Path, pool: &sqlx::PgPool, rsu_id: Uuid) -> Check {
    let epochs: Vec<i64> = {
        let store = Store::open_existing(device_db).unwrap();
        let conn = store.connection();
        let mut stmt = conn
            .prepare("SELECT DISTINCT epoch FROM journal UNION SELECT epoch FROM device ORDER BY 1")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut all = Check::default();
    for epoch in epochs {
        let c = check_epoch(device_db, pool, rsu_id, epoch).await;
        all.device_entries += c.device_entries;
        all.device_pending += c.device_pending;
        all.device_sales += c.device_sales;
        all.device_voids += c.device_voids;
        all.device_rejected += c.device_rejected;
        all.server_entries += c.server_entries;
        all.server_orders += c.server_orders;
        all.server_voided_orders += c.server_voided_orders;
        all.server_rejected += c.server_rejected;
        all.answered_but_pending += c.answered_but_pending;
        all.acked_but_lost_bad += c.acked_but_lost_bad;
        all.mismatch_bad += c.mismatch_bad;
        all.order_bad += c.order_bad;
        all.duplicate_or_orphan_bad += c.duplicate_or_orphan_bad;
        all.void_bad += c.void_bad;
        all.gap_bad += c.gap_bad;
        all.problems.extend(c.problems);
    }
    all
}

/// [`check`] for one epoch.
pub async fn check_epoch(
    device_db: &std::path::Path,
    pool: &sqlx::PgPool,
    rsu_id: Uuid,
    epoch: i64,
) -> Check {
    let mut c = Check::default();
    let store = Store::open_existing(device_db).unwrap();
    let conn = store.connection();
    let mut dev: HashMap<u64, DevEntry> = HashMap::new();
    {
        let mut stmt = conn
            .prepare("SELECT seq, kind, sync_status, reason_code, lower(hex(hash)) FROM journal WHERE epoch = ?1")
            .unwrap();
        let rows = stmt
            .query_map([epoch], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    DevEntry {
                        kind: r.get(1)?,
                        status: r.get(2)?,
                        code: r.get(3)?,
                        hash: r.get(4)?,
                    },
                ))
            })
            .unwrap();
        for row in rows {
            let (seq, e) = row.unwrap();
            dev.insert(seq, e);
        }
    }
    // Sales: id, seq, void seq, draw numbers.
    let mut sales: HashMap<Uuid, (u64, Option<u64>, HashSet<i64>)> = HashMap::new();
    {
        let mut stmt = conn
            .prepare("SELECT id, seq, void_seq FROM sales WHERE epoch = ?1")
            .unwrap();
        let rows = stmt
            .query_map([epoch], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, Option<u64>>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (id, seq, void_seq) = row.unwrap();
            sales.insert(
                Uuid::parse_str(&id).unwrap(),
                (seq, void_seq, HashSet::new()),
            );
        }
        let mut stmt = conn
            .prepare("SELECT sale_id, draw_number FROM sale_numbers")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .unwrap();
        for row in rows {
            let (id, n) = row.unwrap();
            if let Some(s) = sales.get_mut(&Uuid::parse_str(&id).unwrap()) {
                s.2.insert(n);
            }
        }
    }
    c.device_entries = dev.len() as u64;
    c.device_pending = dev.values().filter(|e| e.status == "pending").count() as u64;
    c.device_rejected = dev.values().filter(|e| e.status == "rejected").count() as u64;
    c.device_sales = sales.len() as u64;
    c.device_voids = sales.values().filter(|s| s.1.is_some()).count() as u64;

    // Server side.
    let srv: Vec<(i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT seq, status, reason_code, encode(hash, 'hex') FROM device_journal
          WHERE rsu_id = $1 AND epoch = $2 ORDER BY seq",
    )
    .bind(rsu_id)
    .bind(epoch as i32)
    .fetch_all(pool)
    .await
    .unwrap();
    c.server_entries = srv.len() as u64;
    c.server_rejected = srv.iter().filter(|s| s.1 == "rejected").count() as u64;
    let srv_map: HashMap<u64, (String, Option<String>, String)> = srv
        .iter()
        .map(|(s, st, code, h)| (*s as u64, (st.clone(), code.clone(), h.clone())))
        .collect();
    for (i, (seq, ..)) in srv.iter().enumerate() {
        if *seq != i as i64 + 1 {
            c.gap_bad += 1;
            c.problems
                .push(format!("server seq {seq} at position {}", i + 1));
            break;
        }
    }
    for (seq, e) in &dev {
        match (srv_map.get(seq), e.status.as_str()) {
            (None, "pending") => {}
            (None, st) => {
                c.acked_but_lost_bad += 1;
                c.problems.push(format!(
                    "seq {seq} is {st} on the device but missing on the server"
                ));
            }
            (Some((_, _, h)), _) if *h != e.hash => {
                c.mismatch_bad += 1;
                c.problems.push(format!("seq {seq}: hash differs"));
            }
            (Some(_), "pending") => c.answered_but_pending += 1,
            (Some((sst, scode, _)), dst) => {
                let same = match dst {
                    "applied" | "duplicate" => sst == "applied",
                    "rejected" => sst == "rejected" && scode == &e.code,
                    other => sst == other,
                };
                if !same {
                    c.mismatch_bad += 1;
                    c.problems.push(format!(
                        "seq {seq} ({}): device {dst} {:?}, server {sst} {scode:?}",
                        e.kind, e.code
                    ));
                }
            }
        }
    }
    for seq in srv_map.keys() {
        if !dev.contains_key(seq) {
            c.duplicate_or_orphan_bad += 1;
            c.problems.push(format!(
                "server holds seq {seq} which the device never wrote"
            ));
        }
    }

    let orders: Vec<(Uuid, i64, bool)> = sqlx::query_as(
        "SELECT id, journal_seq, voided_at IS NOT NULL FROM orders WHERE rsu_id = $1 AND journal_epoch = $2",
    )
    .bind(rsu_id)
    .bind(epoch as i32)
    .fetch_all(pool)
    .await
    .unwrap();
    c.server_orders = orders.len() as u64;
    c.server_voided_orders = orders.iter().filter(|o| o.2).count() as u64;
    let tickets: Vec<(Uuid, i32, String)> = sqlx::query_as(
        "SELECT t.order_id, t.draw_number, t.state FROM tickets t JOIN orders o ON o.id = t.order_id
          WHERE o.rsu_id = $1 AND o.journal_epoch = $2",
    )
    .bind(rsu_id)
    .bind(epoch as i32)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tickets_of: HashMap<Uuid, Vec<(i64, String)>> = HashMap::new();
    for (o, n, st) in tickets {
        tickets_of.entry(o).or_default().push((i64::from(n), st));
    }
    let mut order_count: HashMap<Uuid, u32> = HashMap::new();
    for (id, seq, voided) in &orders {
        *order_count.entry(*id).or_default() += 1;
        let Some((sale_seq, void_seq, numbers)) = sales.get(id) else {
            c.duplicate_or_orphan_bad += 1;
            c.problems
                .push(format!("order {id} is no sale of the device"));
            continue;
        };
        if *seq as u64 != *sale_seq {
            c.order_bad += 1;
            c.problems.push(format!(
                "order {id} has journal seq {seq}, the sale {sale_seq}"
            ));
        }
        let t = tickets_of.get(id).cloned().unwrap_or_default();
        let nums: HashSet<i64> = t.iter().map(|x| x.0).collect();
        if nums != *numbers || t.len() != numbers.len() {
            c.order_bad += 1;
            c.problems.push(format!(
                "order {id}: tickets {:?} vs sale numbers {:?}",
                nums, numbers
            ));
        }
        let void_applied = void_seq
            .and_then(|vs| srv_map.get(&vs))
            .is_some_and(|(st, _, _)| st == "applied");
        let all_voided = t.iter().all(|x| x.1 == "voided");
        let none_voided = t.iter().all(|x| x.1 == "sold");
        if void_applied != *voided
            || (void_applied && !all_voided)
            || (!void_applied && !none_voided)
        {
            c.void_bad += 1;
            c.problems.push(format!(
                "order {id}: void applied on server {void_applied}, order voided {voided}, tickets {:?}",
                t
            ));
        }
    }
    if order_count.values().any(|n| *n > 1) {
        c.duplicate_or_orphan_bad += 1;
    }
    // Every sale the server applied has its order; a rejected one has none.
    for (id, (seq, _, _)) in &sales {
        let applied = srv_map.get(seq).is_some_and(|(st, _, _)| st == "applied");
        let has = order_count.contains_key(id);
        if applied != has {
            c.order_bad += 1;
            c.problems.push(format!(
                "sale {id} (seq {seq}): applied on server {applied}, order present {has}"
            ));
        }
    }
    c
}

/// Prints a one-line summary (the tests report counts, not only pass/fail).
pub fn summary(name: &str, c: &Check) -> String {
    format!(
        "{name}: device {} entries ({} pending, {} sales, {} voids, {} rejected) | server {} entries, {} orders ({} voided), {} rejected | answered-but-pending {} | acked-but-lost {} | mismatches {} | order errors {} | duplicates/orphans {} | void errors {} | gaps {}",
        c.device_entries, c.device_pending, c.device_sales, c.device_voids, c.device_rejected,
        c.server_entries, c.server_orders, c.server_voided_orders, c.server_rejected,
        c.answered_but_pending, c.acked_but_lost_bad, c.mismatch_bad, c.order_bad,
        c.duplicate_or_orphan_bad, c.void_bad, c.gap_bad
    )
}

pub fn json_of(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
