//! The server through PgBouncer (issue 16 item 2; docs/scaling.md "PgBouncer"), Debian's 1.18,
//! started by the test:
//! - in transaction mode the server's prepared statements collide (sqlx names them `sqlx_s_N`
//!   per connection, and PgBouncer before 1.21 hands one server session to several clients):
//!   the server refuses to start and says why and what to do, instead of failing requests later;
//! - in session mode a device pushes through it and every sale becomes one order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rsu_core::journal::JournalEntry;
use rsu_core::wire;
use server_stub::testkit::{http_request, Fixture, TestServer, TEST_ADMIN_TOKEN};
use server_stub::{db, AppState};

/// PgBouncer in the foreground, stopped when dropped.
struct Bouncer {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Host and port of the PostgreSQL the tests use (DATABASE_URL, as the test kit reads it).
fn upstream() -> (String, u16) {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let opts: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL parses");
    (opts.get_host().to_string(), opts.get_port())
}

fn pgbouncer(mode: &str) -> anyhow::Result<Bouncer> {
    let which = Command::new("sh")
        .args(["-c", "command -v pgbouncer || ls /usr/sbin/pgbouncer"])
        .output()?;
    anyhow::ensure!(
        which.status.success(),
        "pgbouncer is not installed: run scripts/install-deps.sh"
    );
    let bin = String::from_utf8_lossy(&which.stdout)
        .lines()
        .next()
        .unwrap_or("pgbouncer")
        .trim()
        .to_string();
    let port = free_port();
    let (host, up_port) = upstream();
    let dir = std::env::temp_dir().join(format!("rsu-pgbouncer-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n")?;
    std::fs::write(
        dir.join("pgbouncer.ini"),
        format!(
            "[databases]\n* = host={host} port={up_port}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nauth_type = trust\nauth_file = {users}\npool_mode = {mode}\n\
             max_client_conn = 200\ndefault_pool_size = 8\nunix_socket_dir =\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            users = dir.join("users.txt").display()
        ),
    )?;
    // PgBouncer refuses to run as root; CI runs as root, so it switches to `postgres` there.
    let mut cmd = Command::new(&bin);
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()?;
        cmd.args(["-u", "postgres"]);
    }
    let child = cmd
        .arg(dir.join("pgbouncer.ini"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let b = Bouncer { child, dir, port };
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            up.elapsed() < Duration::from_secs(10),
            "pgbouncer did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(b)
}

/// The test database's URL with PgBouncer's port instead of PostgreSQL's.
fn through(b: &Bouncer, db_url: &str) -> String {
    let (host, port) = upstream();
    db_url.replacen(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", b.port),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_transaction_mode_the_server_refuses_to_start_and_says_why() -> anyhow::Result<()> {
    let f = Fixture::new().await?;
    let b = pgbouncer("transaction")?;
    let url = through(&b, &f.db.url);
    assert_ne!(url, f.db.url, "the URL leads through PgBouncer");
    let pool = db::connect(&url, 4).await?;
    let err = db::migrate(&pool)
        .await
        .expect_err("a transaction-mode PgBouncer 1.18 is refused");
    let text = format!("{err:#}");
    assert!(text.contains("transaction mode"), "{text}");
    assert!(text.contains("pool_mode = session"), "{text}");
    assert!(text.contains("max_prepared_statements"), "{text}");
    // The same probe passes on PostgreSQL itself.
    db::check_not_transaction_pooled(&f.db.pool).await?;
    pool.close().await;
    drop(b);
    f.drop_db().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_session_mode_a_device_pushes_through_it_and_loses_nothing() -> anyhow::Result<()> {
    let mut f = Fixture::new().await?;
    let b = pgbouncer("session")?;
    let url = through(&b, &f.db.url);
    let pool = db::connect(&url, 4).await?;
    db::migrate(&pool).await?;
    let server = TestServer::spawn(AppState::new(pool, Some(TEST_ADMIN_TOKEN))?).await?;
    let mut acked = 0usize;
    for _ in 0..6 {
        let entries: Vec<JournalEntry> = (0..5).map(|_| f.sale(1)).collect();
        let body = f.device.push_body(&entries)?;
        let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
        let (st, v) =
            http_request(server.addr, "POST", wire::PATH_JOURNAL, &headers, &body).await?;
        assert_eq!(st, 200, "{v}");
        for r in v["results"].as_array().expect("results") {
            assert_eq!(r["status"], "applied", "{v}");
        }
        acked += entries.len();
    }
    assert_eq!(
        f.count("orders").await? as usize,
        acked,
        "one order per sale"
    );
    server.stop().await;
    drop(b);
    f.drop_db().await;
    Ok(())
}
