//! The dashboard in a real browser (issue 13 item 4): headless Chromium driven over WebDriver
//! (`chromedriver`, started here on a free port) against the real server on a real database.
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-deps.sh installs them); a
//! missing one fails the test saying so.
//!
//! `RSU_SCREENSHOTS=1 cargo test -p server-stub --test dashboard_browser` also writes a PNG of
//! every page into docs/screenshots/server/ (shown in the README).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard_support;

use dashboard_support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use server_stub::testkit::{Fixture, TestServer};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

/// How long to wait for a page or an element.
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    which("chromium")
        .or_else(|| which("chromium-browser"))
        .or_else(|| which("google-chrome"))
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need Chromium and found no `chromium` on PATH: run \
                 scripts/install-deps.sh (it installs Debian's chromium and chromium-driver)"
            )
        })
}

async fn start_driver() -> Driver {
    let exe = which("chromedriver").unwrap_or_else(|| {
        panic!(
            "the browser tests need `chromedriver` and found none on PATH: run \
             scripts/install-deps.sh (it installs Debian's chromium and chromium-driver)"
        )
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(&exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

/// A headless Chromium session at laptop size.
async fn browser(driver: &Driver) -> Client {
    // Both of rustls's providers are compiled in when the whole workspace is built together:
    // say which one the WebDriver client uses (an error only means one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1",
                     "--lang=en-US"]
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS for the WebDriver client")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            panic!("chromedriver could not start Chromium ({e}): run scripts/install-deps.sh")
        })
}

/// Signs `name` in with `role` in `org` and puts the session in the browser.
///
/// The one place the browser signs in: until the sign-in page exists the session is created
/// directly and its cookie set; with it, this fills in #email and #password and clicks #sign-in.
/// The password the browser tests sign in with.
const PASSWORD: &str = "correct horse battery staple";

async fn sign_in_browser(
    c: &Client,
    base: &str,
    pool: &PgPool,
    org: Uuid,
    role: &str,
    name: &str,
) -> SignedIn {
    let who = sign_in(pool, org, role, name).await;
    // Through the real sign-in page, with a password (Argon2id), as a manager would.
    server_stub::accounts::password::set_password(pool, &who.email, PASSWORD)
        .await
        .unwrap();
    c.delete_all_cookies().await.ok();
    c.goto(&format!("{base}/login?next=/dashboard"))
        .await
        .unwrap();
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(&who.email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    let shown = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("signed-in-user"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, name);
    who
}

/// Writes a PNG of the current page into docs/screenshots/server/ when RSU_SCREENSHOTS=1.
async fn screenshot(c: &Client, name: &str) {
    if std::env::var("RSU_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots/server");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element matching `css`, found again if the element is replaced between
/// finding it and reading it, by a navigation or by the live refresh of <main> (a CI run failed on
/// exactly that race with a stale element reference).
async fn text(c: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match found.text().await {
            Ok(t) => return t,
            Err(e) if e.is_stale_element_reference() && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("reading {css}: {e}"),
        }
    }
}

/// Clicks the first element matching `css` and waits for the page it leads to: every click in
/// these tests follows a link or submits a form, and a lookup made before the new page replaces
/// the old one would find the old page's element.
async fn click(c: &Client, css: &str) {
    let old_page = c.find(Locator::Css("html")).await.expect("a page");
    let deadline = std::time::Instant::now() + WAIT;
    // The live refresh (refresh.js) replaces <main> every few seconds: an element found just
    // before it is stale by the time it is clicked, so find it again.
    loop {
        let found = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match found.click().await {
            Ok(()) => break,
            Err(e) if e.is_stale_element_reference() && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
    loop {
        match old_page.tag_name().await {
            Err(e) if e.is_stale_element_reference() => return,
            Err(e) => panic!("after clicking {css}: {e}"),
            Ok(_) if std::time::Instant::now() > deadline => {
                panic!("clicking {css} did not lead to a new page within {WAIT:?}")
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn type_into(c: &Client, css: &str, s: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match found.send_keys(s).await {
            Ok(()) => return,
            Err(e) if e.is_stale_element_reference() && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("typing into {css}: {e}"),
        }
    }
}

#[tokio::test]
async fn a_manager_runs_an_event_from_the_browser() {
    let driver = start_driver().await;
    let mut f = Fixture::new().await.unwrap();
    let server = TestServer::spawn(f.state.clone()).await.unwrap();
    let base = server.base_url.clone();
    let c = browser(&driver).await;
    let ev = f.event_id;

    // Three sales sit on the device, unsent; its printer is out of paper.
    let sales: Vec<_> = [5, 1, 25].iter().map(|n| f.sale(*n)).collect();
    heartbeat(&f, &f.device, 3, 3, "paper_out").await;
    // The test devices' build is the approved one (the HTTP tests show the warning).
    server_stub::dashboard::apphash::approve_app_hash(
        &f.db.pool,
        &server_stub::dashboard::apphash::ApproveAppHash {
            organization_id: f.org_id,
            app_hash: "0".repeat(64),
            app_version: Some("test".into()),
            note: None,
        },
        Some("Ann Admin"),
    )
    .await
    .unwrap();
    // Two more gates: one synced, one behind with a silent heartbeat.
    let mut north = extra_device(&f, 2, "North stand", 2001).await;
    let north_sales = vec![sale_on(&f, &mut north, 5), sale_on(&f, &mut north, 25)];
    push_on(&f, &north, &north_sales).await;
    heartbeat(&f, &north, 2, 0, "ok").await;
    let mut bar = extra_device(&f, 3, "Bar", 2101).await;
    let bar_sales = vec![sale_on(&f, &mut bar, 1), sale_on(&f, &mut bar, 5)];
    heartbeat(&f, &bar, 2, 2, "ok").await;
    sqlx::query(
        "UPDATE rsu_epochs SET last_heartbeat_at = NOW() - INTERVAL '14 minutes' WHERE rsu_id = $1",
    )
    .bind(bar.rsu_id)
    .execute(&f.db.pool)
    .await
    .unwrap();

    sign_in_browser(
        &c,
        &base,
        &f.db.pool,
        f.org_id,
        "raffle_manager",
        "Mia Manager",
    )
    .await;
    assert!(text(&c, "#events").await.contains("Summer Festival Raffle"));
    click(&c, &format!("#event-{ev} a")).await;
    assert_eq!(text(&c, "#tickets-sold").await, "30");

    c.goto(&format!("{base}/dashboard/events/{ev}/devices"))
        .await
        .unwrap();
    let row = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#rsu-1"))
        .await
        .unwrap();
    assert_eq!(
        row.attr("data-sync").await.unwrap().as_deref(),
        Some("pending")
    );
    assert_eq!(text(&c, "#rsu-1 .pending").await, "3");
    assert_eq!(text(&c, "#rsu-1 .printer").await, "Paper out");
    assert_eq!(row.attr("class").await.unwrap().as_deref(), Some("flag"));
    assert_eq!(text(&c, "#rsu-2 .sync").await, "synced");
    assert_eq!(text(&c, "#rsu-3 .sync").await, "pending");
    assert!(text(&c, "#rsu-3 .heartbeat").await.contains("14 min ago"));
    screenshot(&c, "devices").await;

    // The device syncs; the page's live refresh shows it synced without a reload.
    push_expect(&f, &sales, &["applied", "applied", "applied"]).await;
    heartbeat(&f, &f.device, 3, 0, "ok").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#rsu-1[data-sync='synced']"))
        .await
        .expect("the devices page refreshed itself to synced");
    assert_eq!(text(&c, "#rsu-1 .pending").await, "0");

    c.goto(&format!("{base}/dashboard/events/{ev}"))
        .await
        .unwrap();
    assert_eq!(text(&c, "#tickets-sold").await, "61");
    c.find(Locator::Css("figure svg[role='img']"))
        .await
        .expect("the chart");
    screenshot(&c, "event").await;
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    screenshot(&c, "events").await;

    // A rejected sale, then the device gives back the rest of its numbers.
    let bad = unallocated_sale(&mut f);
    let bad_id = bad.body.entry_id;
    let mut rest = vec![bad];
    rest.extend(releases(&mut f).await);
    push_expect(&f, &rest, &["rejected", "applied", "applied"]).await;
    heartbeat(&f, &f.device, 6, 0, "ok").await;
    let mut end = vec![release_on(&f, &mut north, 2100)];
    push_on(&f, &north, &end).await;
    heartbeat(&f, &north, 3, 0, "ok").await;
    end = bar_sales;
    end.push(release_on(&f, &mut bar, 2200));
    push_on(&f, &bar, &end).await;
    heartbeat(&f, &bar, 3, 0, "ok").await;

    // Sales close; the gate stays closed while the rejection is open.
    c.goto(&format!("{base}/dashboard/events/{ev}/report"))
        .await
        .unwrap();
    click(&c, "#to-sales_closed").await;
    assert!(text(&c, "#notice").await.contains("sales_closed"));
    click(&c, "#to-reconciling").await;
    assert!(text(&c, "#gate-closed")
        .await
        .contains("The gate is closed"));
    screenshot(&c, "report").await;
    click(&c, "#to-reconciled").await;
    let refused = text(&c, "#error-message").await;
    assert!(refused.contains("cannot be reconciled"), "{refused}");
    assert!(refused.contains("RSU 1"), "{refused}");
    screenshot(&c, "gate-refused").await;
    assert_eq!(event_state(&f.db.pool, ev).await, "reconciling");

    // Resolve the rejection with a note.
    c.goto(&format!("{base}/dashboard/events/{ev}/exceptions"))
        .await
        .unwrap();
    assert_eq!(text(&c, "#open-count").await, "1 open");
    screenshot(&c, "exceptions").await;
    type_into(
        &c,
        "#open-exceptions textarea",
        "customer refunded at the desk",
    )
    .await;
    click(&c, "#open-exceptions button[type=submit]").await;
    assert!(text(&c, "#notice").await.contains("resolved"));
    assert_eq!(text(&c, "#open-count").await, "0 open");
    assert_eq!(
        text(&c, "#resolved-exceptions .note").await,
        "customer refunded at the desk"
    );
    let by: Option<String> =
        sqlx::query_scalar("SELECT resolved_by_name FROM device_journal WHERE entry_id = $1")
            .bind(bad_id)
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    assert_eq!(by.as_deref(), Some("Mia Manager"));

    // The gate opens; the event is reconciled, made ready and drawn.
    c.goto(&format!("{base}/dashboard/events/{ev}/report"))
        .await
        .unwrap();
    c.find(Locator::Id("gate-open"))
        .await
        .expect("the gate is open");
    click(&c, "#to-reconciled").await;
    assert!(text(&c, "#notice").await.contains("reconciled"));
    click(&c, "#to-drawing_ready").await;
    assert!(text(&c, "#notice").await.contains("drawing_ready"));
    c.goto(&format!("{base}/dashboard/events/{ev}/draw"))
        .await
        .unwrap();
    type_into(&c, "#beacon", "state lottery 4 8 15 16 23 42").await;
    click(&c, "#run-draw").await;
    assert!(text(&c, "#notice").await.contains("The draw ran"));
    assert!(text(&c, "#winners").await.contains("not claimed yet"));
    let export = c.find(Locator::Id("draw-export")).await.unwrap();
    assert_eq!(
        export.attr("href").await.unwrap().as_deref(),
        Some(format!("/dashboard/events/{ev}/draw/export").as_str())
    );
    screenshot(&c, "draw").await;
    assert_eq!(event_state(&f.db.pool, ev).await, "completed");

    // The winner claims with the receipt's validation number.
    let vn: String = sqlx::query_scalar(
        "SELECT o.validation_number FROM draw_results d JOIN tickets t ON t.id = d.winning_ticket_id
           JOIN orders o ON o.id = t.order_id LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    c.goto(&format!("{base}/dashboard/events/{ev}/claims"))
        .await
        .unwrap();
    type_into(&c, "#validationNumber", &vn.to_lowercase()).await;
    click(&c, "#claim").await;
    assert!(text(&c, "#claim-result").await.contains("Claim recorded"));
    assert!(text(&c, "#claims").await.contains("by Mia Manager"));
    screenshot(&c, "claims").await;

    // A tablet sees the devices page too.
    c.set_window_size(820, 1180).await.unwrap();
    c.goto(&format!("{base}/dashboard/events/{ev}/devices"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#rsu-1"))
        .await
        .unwrap();
    screenshot(&c, "devices-tablet").await;

    // Sign out: the dashboard sends to sign in again.
    click(&c, "#sign-out").await;
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "{url}");

    c.close().await.unwrap();
    server.stop().await;
    f.drop_db().await;
}

#[tokio::test]
async fn a_forged_csrf_token_and_a_viewers_resolve_are_refused_in_the_browser() {
    let driver = start_driver().await;
    let mut f = Fixture::new().await.unwrap();
    let server = TestServer::spawn(f.state.clone()).await.unwrap();
    let base = server.base_url.clone();
    let c = browser(&driver).await;
    let ev = f.event_id;
    let bad = unallocated_sale(&mut f);
    let bad_id = bad.body.entry_id;
    push_expect(&f, &[bad], &["rejected"]).await;
    let page = format!("{base}/dashboard/events/{ev}/exceptions");
    let still_open = |pool: PgPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM device_journal WHERE entry_id = $1 AND resolved_at IS NULL",
        )
        .bind(bad_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        n == 1
    };

    // A manager's form whose token was replaced (as a forged cross-site form would send).
    sign_in_browser(
        &c,
        &base,
        &f.db.pool,
        f.org_id,
        "raffle_manager",
        "Mia Manager",
    )
    .await;
    c.goto(&page).await.unwrap();
    c.execute(
        "document.querySelectorAll('#open-exceptions input[name=csrf]').forEach(i => i.value = 'forged');",
        vec![],
    )
    .await
    .unwrap();
    type_into(&c, "#open-exceptions textarea", "should not be saved").await;
    click(&c, "#open-exceptions button[type=submit]").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("body"))
        .await
        .unwrap();
    let source = c.source().await.unwrap();
    assert!(source.contains("csrf_rejected"), "{source}");
    assert!(still_open(f.db.pool.clone()).await);

    // A viewer sees the exception but has no resolve button, and a hand-made form is refused.
    sign_in_browser(&c, &base, &f.db.pool, f.org_id, "viewer", "Vic Viewer").await;
    c.goto(&page).await.unwrap();
    assert_eq!(text(&c, "#open-count").await, "1 open");
    assert!(c
        .find_all(Locator::Css("#open-exceptions button"))
        .await
        .unwrap()
        .is_empty());
    c.execute(
        "const f = document.createElement('form');
         f.method = 'post'; f.action = arguments[0];
         for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value],
                               ['entryId', arguments[1]], ['note', 'viewer was here']]) {
           const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v;
           f.appendChild(i);
         }
         document.body.appendChild(f); f.submit();",
        vec![
            serde_json::json!(format!("/dashboard/events/{ev}/exceptions/resolve")),
            serde_json::json!(bad_id.to_string()),
        ],
    )
    .await
    .unwrap();
    let code = text(&c, "#error-code").await;
    assert_eq!(code, "permission_denied");
    assert!(text(&c, "#error-message")
        .await
        .contains("exception.resolve"));
    assert!(still_open(f.db.pool.clone()).await);

    c.close().await.unwrap();
    server.stop().await;
    f.drop_db().await;
}
