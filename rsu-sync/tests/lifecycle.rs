//! A device's whole life against the real server on a real PostgreSQL (issue 15): a replacement
//! database, re-enrollment of the same database, key rotation ahead of expiry (and a lost
//! rotation answer), a key that expired offline recovered with an admin token, a lost
//! enrollment answer, next week's event in the configuration, and a pull that fails while sales
//! wait to be pushed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rsu_store::Store;
use server_stub::admin;
use std::collections::HashSet;
use uuid::Uuid;

async fn new_token(w: &World) -> String {
    let v = admin::create_enrollment_token(
        w.pool(),
        &admin::NewEnrollmentToken {
            rsu_id: w.rsu_id,
            token_hours: 1,
        },
    )
    .await
    .expect("token");
    v["enrollmentToken"].as_str().unwrap().to_string()
}

fn sale_seq(s: &rsu_store::Sale) -> u64 {
    rsu_core::validation::ValidationNumber::parse(&s.validation_number)
        .expect("validation number")
        .seq()
}

fn numbers(sales: &[rsu_store::Sale]) -> Vec<i64> {
    sales
        .iter()
        .flat_map(|s| s.draw_numbers.iter().map(|n| n.0))
        .collect()
}

/// The device's own view after enrollment with a fresh database at `path`.
async fn enroll_fresh(w: &World, path: &std::path::Path) -> rsu_sync::EnrollReport {
    let token = new_token(w).await;
    rsu_sync::enroll_async(path, &w.proxy.url(), &token)
        .await
        .expect("enrollment of the replacement")
}

fn engine_for(w: &World, db: &std::path::Path) -> rsu_sync::Engine {
    let mut s = w.settings();
    s.db = Some(db.to_path_buf());
    rsu_sync::Engine::open(db, &s).expect("engine")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_database_never_resells_numbers_or_reissues_validation_numbers() {
    // Issue 15, defect 1, as reproduced: A sells 1001–1015 and syncs, sells 1016–1025 and is
    // lost; a fresh database enrolled as the same RSU used to print 1001–1005 with A's
    // validation numbers, valid tags included.
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut a = w.store();
    let mut a_engine = w.engine();
    let synced = sell(&mut a, 15);
    drain(&mut a_engine, 20).await;
    let unsynced = sell(&mut a, 10);
    assert_eq!(numbers(&unsynced).last(), Some(&1025));
    let a_numbers: HashSet<i64> = numbers(&synced)
        .into_iter()
        .chain(numbers(&unsynced))
        .collect();
    let a_vns: HashSet<String> = synced
        .iter()
        .chain(&unsynced)
        .map(|s| s.validation_number.clone())
        .collect();
    drop(a_engine);
    drop(a);

    // B: a fresh database for the same RSU.
    let b_path = w.dir.path().join("replacement.sqlite3");
    let report = enroll_fresh(&w, &b_path).await;
    assert_eq!(report.epoch, 2);
    let mut b = Store::open_existing(&b_path).unwrap();
    b.login(SELLER_PIN, None).expect("login on B");
    // Nothing to sell from yet: A's ranges are withheld.
    let mut b_engine = engine_for(&w, &b_path);
    let r = b_engine.round_now().await;
    assert!(r.top_up.is_some(), "B asks for a fresh range: {r:?}");
    let b_sales = sell(&mut b, 10);
    for n in numbers(&b_sales) {
        assert!(!a_numbers.contains(&n), "B resold {n}, a number A sold");
        assert!(n > 1200, "B sold {n} from a range A held (1001–1200)");
    }
    for s in &b_sales {
        let vn = &s.validation_number;
        assert!(!a_vns.contains(vn), "B reissued {vn}");
        assert!(sale_seq(s) > 15, "sale seq {} reused", sale_seq(s));
    }
    drain(&mut b_engine, 20).await;
    let rejected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_journal WHERE rsu_id = $1 AND status <> 'applied'",
    )
    .bind(w.rsu_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(rejected, 0, "every sale of B is accepted");
    let c = check(&b_path, w.pool(), w.rsu_id).await;
    c.assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enrolling_the_same_database_keeps_its_ranges_and_sale_sequence() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = w.engine();
    sell(&mut store, 5);
    drain(&mut engine, 20).await;
    drop(engine);
    let token = new_token(&w).await;
    let report = rsu_sync::enroll_async(&w.device_db, &w.proxy.url(), &token)
        .await
        .expect("re-enrollment");
    assert_eq!(report.epoch, 2);
    let mut store = w.store();
    store.login(SELLER_PIN, None).unwrap();
    let s = sell(&mut store, 1);
    assert_eq!(
        numbers(&s),
        vec![1006],
        "the same database sells on from its own position"
    );
    assert_eq!(sale_seq(&s[0]), 6);
    let mut engine = w.engine();
    drain(&mut engine, 20).await;
    w.drop_db().await;
}

async fn key_ids(w: &World) -> Vec<(Uuid, Option<Uuid>, bool)> {
    sqlx::query_as(
        "SELECT id, registered_by, revoked_at IS NULL FROM rsu_keys WHERE rsu_id = $1 ORDER BY valid_from",
    )
    .bind(w.rsu_id)
    .fetch_all(w.pool())
    .await
    .unwrap()
}

/// Ages the device's current key on the server so that `days_left` of 90 remain.
async fn age_key(w: &World, key_id: Uuid, days_left: i64) {
    sqlx::query(
        "UPDATE rsu_keys SET valid_from = NOW() - make_interval(days => 90 - $2::int),
                             expires_at = NOW() + make_interval(days => $2::int)
          WHERE id = $1",
    )
    .bind(key_id)
    .bind(days_left as i32)
    .execute(w.pool())
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_rotates_its_key_ahead_of_expiry_and_survives_a_lost_answer() {
    // Issue 15, defect 2: nothing rotated, so day 91 wedged the device.
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let k1 = w.store().sync_identity().unwrap().key_id.unwrap();
    age_key(&w, k1, 20).await; // past two thirds of 90 days
    let mut engine = w.engine();
    // The first round learns the expiry from the pull; the proxy then loses the rotation's
    // answer after the server registered the new key (a crash between "server registered K2"
    // and "device saved K2" looks the same to the device).
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    w.proxy
        .push_fault(rsu_core::wire::PATH_KEYS, Fault::DropResponse);
    let r = engine.round_now().await;
    assert!(r.ops.first().is_some_and(|o| o == "RotateKey"), "{r:?}");
    assert!(r.error.is_some(), "the rotation's answer was lost: {r:?}");
    assert_eq!(w.store().sync_identity().unwrap().key_id, Some(k1));
    // Next round: the same new key is sent again and the server answers the same key id.
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    let k2 = w.store().sync_identity().unwrap().key_id.unwrap();
    assert_ne!(k2, k1);
    let keys = key_ids(&w).await;
    let successors: Vec<_> = keys
        .iter()
        .filter(|(_, by, live)| *by == Some(k1) && *live)
        .collect();
    assert_eq!(
        successors.len(),
        1,
        "one successor, not one per attempt: {keys:?}"
    );
    assert_eq!(successors[0].0, k2);
    // K2 was used in the same round (pull, push, heartbeat): the old key file is gone.
    assert!(!rsu_sync::keyfile::key_path(&w.device_db, k1).exists());
    assert!(rsu_sync::keyfile::key_path(&w.device_db, k2).exists());
    assert_eq!(w.store().key_state().unwrap().previous_key_id, None);
    // And sales keep syncing with it.
    let mut store = w.store();
    sell(&mut store, 3);
    drain(&mut engine, 20).await;
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_expired_offline_recovers_with_an_admin_token_keeping_pending_entries() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = w.engine();
    sell(&mut store, 4);
    drain(&mut engine, 20).await;
    // Weeks offline: the key expires; sales go on (offline limits permitting).
    let k1 = w.store().sync_identity().unwrap().key_id.unwrap();
    sqlx::query("UPDATE rsu_keys SET valid_from = NOW() - interval '100 days', expires_at = NOW() - interval '1 second' WHERE id = $1")
        .bind(k1)
        .execute(w.pool())
        .await
        .unwrap();
    let offline = sell(&mut store, 6);
    let r = engine.round_now().await;
    assert!(
        r.pending_after > 0,
        "made after expiry: not accepted with the old key: {r:?}"
    );
    drop(engine);
    // The admin issues a token; enrolling again is allowed with pending entries because the
    // database proves it held the old key.
    let token = new_token(&w).await;
    let report = rsu_sync::enroll_async(&w.device_db, &w.proxy.url(), &token)
        .await
        .expect("recovery enrollment with pending entries");
    assert_eq!(report.epoch, 2);
    let mut engine = w.engine();
    drain(&mut engine, 20).await;
    // The old epoch's entries arrived as epoch 1's, all applied, no gaps.
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_journal WHERE rsu_id = $1 AND epoch = 1 AND kind = 'sale' AND status = 'applied'",
    )
    .bind(w.rsu_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(applied, 10);
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE validation_number = $1")
            .bind(&offline[5].validation_number)
            .fetch_one(w.pool())
            .await
            .unwrap();
    assert_eq!(orders, 1);
    // The same database keeps selling on from its own numbers.
    let mut store = w.store();
    store.login(SELLER_PIN, None).ok();
    let s = sell(&mut store, 1);
    assert_eq!(numbers(&s), vec![1011]);
    drain(&mut engine, 20).await;
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_enrollment_answer_is_recovered_with_a_new_token() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    sell(&mut store, 3);
    // Re-enrollment whose answer is lost after the server committed it (epoch 2, old key revoked
    // as re-enrolled); the three sales are still pending.
    w.proxy
        .push_fault(rsu_core::wire::PATH_ENROLL, Fault::DropResponse);
    let token = new_token(&w).await;
    let err = rsu_sync::enroll_async(&w.device_db, &w.proxy.url(), &token)
        .await
        .unwrap_err();
    let _ = err;
    let epoch: i32 = sqlx::query_scalar("SELECT current_epoch FROM rsus WHERE id = $1")
        .bind(w.rsu_id)
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(epoch, 2, "the server committed the enrollment");
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.pending_after > 0, "the old key is revoked: {r:?}");
    drop(engine);
    let token = new_token(&w).await;
    let report = rsu_sync::enroll_async(&w.device_db, &w.proxy.url(), &token)
        .await
        .expect("recovery");
    assert_eq!(report.epoch, 3);
    let mut engine = w.engine();
    drain(&mut engine, 20).await;
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_weeks_event_in_the_configuration_never_stops_this_events_sales_from_syncing() {
    // Issue 15, defect 3: the admin sets up next week's event (still `created`) and gives this
    // RSU a range in it; the config used to carry the range without its event, the device's
    // foreign key refused the whole configuration, and every round failed before pushing.
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let ev: serde_json::Value =
        sqlx::query_scalar("SELECT to_jsonb(e) FROM events e WHERE id = $1")
            .bind(w.event_id)
            .fetch_one(w.pool())
            .await
            .unwrap();
    let next_week = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events SELECT (jsonb_populate_record(NULL::events,
             $1::jsonb || jsonb_build_object('id', $2::text, 'state', 'created',
                                             'event_identifier', 'NEXT-WEEK', 'name', 'Next week'))).*",
    )
    .bind(&ev)
    .bind(next_week.to_string())
    .execute(w.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO rsu_allocations (event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_available)
         VALUES ($1, $2, 5001, 5100, 5001, 100, 'active', 100)",
    )
    .bind(next_week)
    .bind(w.rsu_id)
    .execute(w.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE organizations SET config_version = config_version + 1")
        .execute(w.pool())
        .await
        .unwrap();
    let mut store = w.store();
    sell(&mut store, 3);
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    assert_eq!(r.pending_after, 0, "{r:?}");
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pull_never_stops_the_push() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    sell(&mut store, 4);
    w.proxy
        .always(rsu_core::wire::PATH_CONFIG, Fault::Status(500));
    sqlx::query("UPDATE organizations SET config_version = config_version + 1")
        .execute(w.pool())
        .await
        .unwrap();
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.ops.iter().any(|o| o == "Pull"), "{r:?}");
    assert!(r.error.is_some(), "the pull failed: {r:?}");
    assert_eq!(
        r.pending_after, 0,
        "the sales were pushed all the same: {r:?}"
    );
    w.drop_db().await;
}
