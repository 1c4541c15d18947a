//! Two server instances behind HAProxy (issue 16 item 2; docs/scaling.md "Several server
//! instances"): a device pushes through the balancer, one instance is killed mid-run, and every
//! acknowledged entry is in the database once; a nonce used at one instance is refused by the
//! other, since nonces and epochs live in the shared database, not in a process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rsu_core::journal::JournalEntry;
use rsu_core::wire;
use server_stub::testkit::{http_request, Fixture, TestServer, TEST_ADMIN_TOKEN};
use server_stub::{db, AppState};

/// HAProxy in the foreground, stopped when dropped.
struct Haproxy(Child, std::path::PathBuf);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn haproxy(port: u16, backends: &[std::net::SocketAddr]) -> anyhow::Result<Haproxy> {
    let which = Command::new("sh")
        .args(["-c", "command -v haproxy"])
        .output()?;
    anyhow::ensure!(
        which.status.success(),
        "haproxy is not installed: run scripts/install-deps.sh"
    );
    let mut cfg = format!(
        "global\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  retries 2\n  option redispatch\n\
         frontend devices\n  bind 127.0.0.1:{port}\n  default_backend servers\n\
         backend servers\n  balance roundrobin\n  option httpchk GET /health\n"
    );
    for (i, b) in backends.iter().enumerate() {
        cfg.push_str(&format!(
            "  server s{i} {b} check inter 200ms fall 1 rise 2\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("rsu-haproxy-{}-{port}.cfg", std::process::id()));
    std::fs::write(&path, cfg)?;
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Haproxy(child, path))
}

/// An instance of its own: its own pool on the shared database, as a second process would have.
async fn instance(url: &str) -> anyhow::Result<TestServer> {
    let pool = db::connect(url, 5).await?;
    TestServer::spawn(AppState::new(pool, Some(TEST_ADMIN_TOKEN))?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_behind_haproxy_loses_nothing_and_nonces_hold_across_instances(
) -> anyhow::Result<()> {
    let mut f = Fixture::new().await?;
    let a = instance(&f.db.url).await?;
    let b = instance(&f.db.url).await?;

    // A nonce used at instance A is refused at instance B.
    let beat = serde_json::to_vec(&wire::HeartbeatRequest {
        epoch: f.device.epoch,
        last_seq: 0,
        pending_count: 0,
        oldest_pending_age_secs: None,
        printer_status: "ok".into(),
        printer_status_age_secs: None,
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        acknowledged_commands: vec![],
    })?;
    let headers = f
        .device
        .signed_headers("POST", wire::PATH_HEARTBEAT, &beat)?;
    let (st, v) = http_request(a.addr, "POST", wire::PATH_HEARTBEAT, &headers, &beat).await?;
    assert_eq!(st, 200, "{v}");
    let (st, v) = http_request(b.addr, "POST", wire::PATH_HEARTBEAT, &headers, &beat).await?;
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["error"], "nonce_reused", "{v}");

    let port = free_port();
    let _lb = haproxy(port, &[a.addr, b.addr])?;
    let lb: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let up = Instant::now();
    while http_request(lb, "GET", "/health", &[], b"")
        .await
        .map(|r| r.0)
        .ok()
        != Some(200)
    {
        anyhow::ensure!(
            up.elapsed() < Duration::from_secs(10),
            "haproxy did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut a = Some(a);
    let mut acked: Vec<i64> = vec![];
    let mut retries = 0;
    for batch in 0..12 {
        let entries: Vec<JournalEntry> = (0..4).map(|_| f.sale(1)).collect();
        let seqs: Vec<i64> = entries.iter().map(|e| e.body.seq as i64).collect();
        let body = f.device.push_body(&entries)?;
        if batch == 6 {
            // Instance A dies while this batch is on its way (through the balancer to A or B).
            if let Some(a) = a.take() {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    a.kill();
                });
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "batch {batch} never acknowledged"
            );
            let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
            match http_request(lb, "POST", wire::PATH_JOURNAL, &headers, &body).await {
                Ok((200, v)) => {
                    for r in v["results"].as_array().unwrap() {
                        let s = r["status"].as_str().unwrap_or("");
                        assert!(s == "applied" || s == "duplicate", "{v}");
                    }
                    break;
                }
                Ok((st, v)) => {
                    assert!(st >= 500, "only a lost instance may refuse: {st} {v}");
                    retries += 1;
                }
                Err(_) => retries += 1,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acked.extend(seqs);
    }
    let held: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM device_journal WHERE rsu_id = $1 ORDER BY seq")
            .bind(f.device.rsu_id)
            .fetch_all(&f.db.pool)
            .await?;
    assert_eq!(held, acked, "every acknowledged entry once, nothing else");
    let orders = f.count("orders").await?;
    assert_eq!(orders as usize, acked.len(), "one order per sale");
    println!(
        "through haproxy: {} entries acknowledged, 0 lost, {retries} retries after the kill",
        acked.len()
    );
    b.stop().await;
    f.drop_db().await;
    Ok(())
}
