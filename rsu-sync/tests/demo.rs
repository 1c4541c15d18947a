//! The server's demo (`server-stub demo-seed`) and the kiosk's (`rsu-app demo-init`) are one demo:
//! a device enrolled with a seeded server holds the same organization, event, packages, prices,
//! operators and allocations as the kiosk demo, and sells the packages the README names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rsu_core::config::DeviceConfig;
use rsu_store::Store;
use server_stub::testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_demo_seed_is_the_kiosk_demo() {
    let db = TestDb::create().await.expect("test database");
    let seeded = server_stub::demo::demo_seed(&db.pool).await.expect("seed");
    let token = seeded["enrollmentToken"].as_str().unwrap().to_string();
    let server = Server::start(&db.url);
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("rsu.sqlite3");
    rsu_sync::enroll_async(&device_db, &format!("http://{}", server.addr), &token)
        .await
        .expect("enrollment");

    let mut store = Store::open_existing(&device_db).unwrap();
    let json: String = store
        .connection()
        .query_row("SELECT config_json FROM settings WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let server: DeviceConfig = serde_json::from_str(&json).unwrap();
    let (_, kiosk) = rsu_store::demo_config(chrono::Utc::now()).unwrap();

    let org = |c: &DeviceConfig| {
        (
            c.organization.name.clone(),
            c.organization.license_number.clone(),
            c.organization.primary_currency.clone(),
            c.organization.rsu_settings.validation_number_prefix.clone(),
        )
    };
    assert_eq!(org(&server), org(&kiosk));
    assert_eq!(
        (
            server.rsu.rsu_no,
            &server.rsu.name,
            server.rsu.max_offline_tickets
        ),
        (
            kiosk.rsu.rsu_no,
            &kiosk.rsu.name,
            kiosk.rsu.max_offline_tickets
        )
    );
    let (se, ke) = (&server.events[0], &kiosk.events[0]);
    assert_eq!(server.events.len(), 1);
    assert_eq!(
        (
            &se.name,
            &se.event_identifier,
            se.state,
            &se.currency,
            &se.timezone,
            &se.venue_name
        ),
        (
            &ke.name,
            &ke.event_identifier,
            ke.state,
            &ke.currency,
            &ke.timezone,
            &ke.venue_name
        )
    );
    assert_eq!(se.jackpot, ke.jackpot);
    let packages = |e: &rsu_core::config::EventConfig| {
        let mut p: Vec<_> = e
            .packages
            .iter()
            .map(|p| {
                (
                    p.display_order,
                    p.name.clone(),
                    p.ticket_count,
                    p.price,
                    p.is_active,
                )
            })
            .collect();
        p.sort_by_key(|p| p.0);
        p
    };
    assert_eq!(packages(se), packages(ke));
    let prizes = |e: &rsu_core::config::EventConfig| {
        e.prizes
            .iter()
            .map(|p| (p.name.clone(), p.kind.clone(), p.percentage_bp, p.position))
            .collect::<Vec<_>>()
    };
    assert_eq!(prizes(se), prizes(ke));
    let j = |e: &rsu_core::config::EventConfig| {
        (
            e.jurisdiction.price_lock,
            e.jurisdiction.offline_sales_allowed,
            e.jurisdiction.responsible_gaming_text.clone(),
            e.jurisdiction.rules_url.clone(),
        )
    };
    assert_eq!(j(se), j(ke));
    // The claim deadline is a date 90 days after the draw, worded for "Claim by …" in both.
    for e in [se, ke] {
        let deadline = (e.draw_time + chrono::Duration::days(90)).format("%Y-%m-%d");
        assert_eq!(
            e.jurisdiction.claim_deadline,
            format!("{deadline} (90 days after the draw)")
        );
    }
    let allocations = |c: &DeviceConfig| {
        let mut a: Vec<_> = c
            .allocations
            .iter()
            .map(|a| (a.start_number, a.end_number))
            .collect();
        a.sort();
        a
    };
    assert_eq!(allocations(&server), allocations(&kiosk));
    let operators = |c: &DeviceConfig| {
        let mut o: Vec<_> = c
            .operators
            .iter()
            .map(|o| (o.name.clone(), o.role, o.is_active))
            .collect();
        o.sort_by(|a, b| a.0.cmp(&b.0));
        o
    };
    assert_eq!(operators(&server), operators(&kiosk));

    // The demo PINs work, and "5 tickets" (the README's sell step) is on sale.
    let (op, _) = store.login(SUPERVISOR_PIN, None).unwrap();
    assert_eq!(op.name, "Pat Supervisor");
    let (op, _) = store.login(SELLER_PIN, None).unwrap();
    assert_eq!(op.name, "Sam Seller");
    let five = se.packages.iter().find(|p| p.name == "5 tickets").unwrap();
    let sale = store.sell(&cash(five.id)).unwrap();
    assert_eq!(sale.draw_numbers.len(), 5);
    store.mark_printed(sale.id).unwrap();
    drop(store);

    // One round of the daemon, as the README's walkthrough runs it: everything arrives, and its
    // log, written to a pipe rather than a terminal, carries no ANSI colour codes.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rsu-syncd"))
            .arg("--db")
            .arg(&device_db)
            .arg("--once")
            .env("RSU_LOG", "info")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr.contains("sync round"),
        "the round is logged: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escapes in a log that is not a terminal: {stderr:?}"
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE rsu_id IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1, "the sale arrived as an order");

    drop(server);
    db.drop_db().await;
}
