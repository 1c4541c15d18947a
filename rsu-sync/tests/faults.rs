//! Fault tests, end to end: the real server-stub on a fresh PostgreSQL database, a real device
//! database, and the fault-injecting proxy between them. Every test ends with the checker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rsu_core::wire::{PATH_CONFIG, PATH_JOURNAL};
use std::time::{Duration, Instant};

/// A device with 30 sales, one void, two sales the server will reject (numbers it never
/// allocated) and two after them that it will accept.
async fn busy_world(opts: WorldOptions) -> World {
    let w = World::new(opts).await;
    let mut store = w.store();
    let sales = sell(&mut store, 30);
    store
        .void(
            &sales[3].validation_number,
            SUPERVISOR_PIN,
            "customer changed their mind",
        )
        .unwrap();
    plant_foreign_allocation(&mut store, w.event_id, 2);
    sell(&mut store, 4);
    w
}

/// One fault on the first push: the round fails with `code`, nothing is lost or doubled, the
/// next rounds deliver everything, and (if the server had committed) the resend is answered as
/// duplicates.
async fn push_fault(name: &str, fault: Fault, code: &str, server_committed: bool) {
    let w = busy_world(WorldOptions::default()).await;
    let mut settings = w.settings();
    settings.request_timeout_secs = 1.0;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    w.proxy.push_fault(PATH_JOURNAL, fault);
    let started = Instant::now();
    let r = engine.round_now().await;
    assert_eq!(r.error_code.as_deref(), Some(code), "{name}: {r:?}");
    assert!(r.pending_after > 30, "{name}: entries stay pending: {r:?}");
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_consistent();
    if server_committed {
        assert!(
            c.answered_but_pending > 0,
            "{name}: the server committed: {c:#?}"
        );
    } else {
        assert_eq!(
            c.answered_but_pending, 0,
            "{name}: the server saw nothing: {c:#?}"
        );
    }
    let st = rsu_sync::status::status(&w.device_db).unwrap();
    assert_eq!(st.last_error_code.as_deref(), Some(code));
    assert!(
        st.pending_entries > 0 && st.consecutive_failures == 1,
        "{st:#?}"
    );

    let r2 = engine.round_now().await;
    assert!(r2.error.is_none(), "{name}: {r2:?}");
    if server_committed {
        assert!(
            r2.duplicates > 0,
            "{name}: resent entries are duplicates: {r2:?}"
        );
    } else {
        assert_eq!(r2.duplicates, 0, "{name}: {r2:?}");
    }
    drain(&mut engine, 10).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    assert_eq!(
        c.device_rejected, 2,
        "two sales from a foreign range: {c:#?}"
    );
    assert_eq!(c.server_voided_orders, 1);
    assert_eq!(c.server_orders, 32);
    let st = rsu_sync::status::status(&w.device_db).unwrap();
    assert_eq!(st.consecutive_failures, 0, "reset on success");
    assert_eq!(st.rejected, 2);
    eprintln!(
        "{} ({} ms)",
        summary(name, &c),
        started.elapsed().as_millis()
    );
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_reset_mid_request_loses_nothing() {
    push_fault(
        "reset mid-request",
        Fault::ResetMidRequest,
        "transport",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_dropped_after_the_server_committed_is_resent_and_answered_duplicate() {
    push_fault("response dropped", Fault::DropResponse, "transport", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_s_stall_times_out_and_the_resend_is_a_duplicate() {
    push_fault(
        "30 s stall",
        Fault::Stall(Duration::from_secs(30)),
        "timeout",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_after_commit_is_unknown_and_retried() {
    push_fault(
        "500 after commit",
        Fault::StatusAfterCommit(500),
        "server_error",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_unknown_and_retried() {
    push_fault("503", Fault::Status(503), "server_error", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_later() {
    // The test proxy's 429 carries `Retry-After: 1`: the daemon waits as told.
    push_fault("429", Fault::Status(429), "busy", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_is_tried_again_exactly_when_its_retry_after_says() {
    push_fault("503 Retry-After", Fault::Busy(7), "busy", false).await;
    // And the wait is the server's 7 s, not the exponential backoff's first step (≤ 1 s).
    let w = busy_world(WorldOptions::default()).await;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &w.settings()).unwrap();
    w.proxy.push_fault(PATH_JOURNAL, Fault::Busy(7));
    let before = chrono::Utc::now();
    let r = engine.round_now().await;
    assert_eq!(r.error_code.as_deref(), Some("busy"), "{r:?}");
    let until = engine.last_answer().retry_at.expect("a retry time");
    let wait = (until - before).num_milliseconds();
    assert!((6_500..=8_000).contains(&wait), "waits {wait} ms");
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_shrink_to_what_a_busy_server_asks_for_and_grow_back_when_it_is_idle() {
    let w = World::new(WorldOptions::default()).await;
    let mut store = w.store();
    sell(&mut store, 700);
    let mut settings = w.settings();
    settings.batch_size = 300;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let pending = rsu_sync::status::status(&w.device_db)
        .unwrap()
        .pending_entries;
    assert!(pending >= 700, "{pending}");

    // A server whose push queue is deep asks for 70 entries at a time: the first push (before
    // any answer) is the configured 300, every one after it at most 70.
    w.proxy.always(PATH_JOURNAL, Fault::BatchMax(70));
    let r = engine.round_now().await;
    assert_eq!(r.error_code, None, "{r:?}");
    assert_eq!(r.pending_after, 0, "{r:?}");
    assert_eq!(r.batches, 1 + (pending - 300).div_ceil(70), "{r:?}");
    assert_eq!(engine.client_batch_max(), Some(70));

    // Idle again: the first push still follows the last answer (70), the server's own header
    // on it says 1,000, and the rest go at the configured 300.
    w.proxy.clear();
    sell(&mut store, 700);
    let pending = rsu_sync::status::status(&w.device_db)
        .unwrap()
        .pending_entries;
    let r = engine.round_now().await;
    assert_eq!(r.error_code, None, "{r:?}");
    assert_eq!(
        r.batches,
        1 + (pending - 70).div_ceil(300),
        "{pending} pending: {r:?}"
    );
    assert_eq!(
        engine.client_batch_max(),
        Some(1000),
        "the server's own answer"
    );
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_unknown_and_retried() {
    push_fault("truncated body", Fault::TruncateBody, "transport", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_then_the_server_comes_back() {
    let mut w = busy_world(WorldOptions::default()).await;
    let mut engine = w.engine();
    w.proxy.refuse();
    for _ in 0..3 {
        let r = engine.round_now().await;
        assert_eq!(r.error_code.as_deref(), Some("transport"), "{r:?}");
        assert!(r
            .error
            .as_deref()
            .unwrap_or("")
            .contains("cannot reach the server"));
    }
    let st = rsu_sync::status::status(&w.device_db).unwrap();
    assert_eq!(st.consecutive_failures, 3);
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_consistent();
    assert_eq!(c.server_entries, 0);
    w.proxy.resume().await;
    drain(&mut engine, 10).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    eprintln!("{}", summary("connection refused", &c));
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_config_pull_and_heartbeat_do_not_touch_the_journal() {
    let w = busy_world(WorldOptions::default()).await;
    let mut engine = w.engine();
    w.proxy.push_fault(PATH_CONFIG, Fault::TruncateBody);
    let r = engine.round_now().await;
    assert_eq!(r.error_code.as_deref(), Some("transport"), "{r:?}");
    // Issue 15 (defect 3) changed this: a failed pull no longer stops the push (it was
    // `r.batches == 0`, "the pull comes first and failed").
    assert!(r.batches > 0, "the pull failed and the push went on: {r:?}");
    drain(&mut engine, 10).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_failing_for_a_while_then_recovering() {
    let w = busy_world(WorldOptions::default()).await;
    let mut engine = w.engine();
    for fault in [
        Fault::DropResponse,
        Fault::Status(503),
        Fault::StatusAfterCommit(500),
        Fault::TruncateBody,
        Fault::ResetMidRequest,
        Fault::Status(429),
    ] {
        w.proxy.always(PATH_JOURNAL, fault.clone());
        let mut store = w.store();
        sell(&mut store, 3);
        for _ in 0..2 {
            let r = engine.round_now().await;
            assert!(r.error.is_some(), "{fault:?}: {r:?}");
        }
        let c = check(&w.device_db, w.pool(), w.rsu_id).await;
        c.assert_consistent();
    }
    w.proxy.clear();
    drain(&mut engine, 10).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    assert_eq!(c.server_orders, 32 + 18);
    eprintln!("{}", summary("rotating faults", &c));
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_and_restarted_mid_drain() {
    let mut w = World::new(WorldOptions::default()).await;
    let mut store = w.store();
    let n = env_count("RSU_RESTART_SALES", 3000);
    sell(&mut store, n);
    let mut settings = w.settings();
    settings.batch_size = 50;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let daemon = tokio::spawn(async move {
        engine.run(rx).await.unwrap();
    });
    // Let part of the journal arrive, then kill the server mid-batch, twice.
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for threshold in [n as i64 / 4, n as i64 / 2] {
        loop {
            let got: i64 = sqlx::query_scalar("SELECT count(*) FROM device_journal")
                .fetch_one(w.pool())
                .await
                .unwrap();
            if got >= threshold {
                break;
            }
            assert!(Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.restart_server();
        kills += 1;
        // Sales go on while the server is away.
        sell(&mut store, 10);
    }
    loop {
        if w.store().sync_counts().unwrap().pending_entries == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not drained after the restarts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    daemon.await.unwrap();
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    assert_eq!(c.server_orders as usize, n + 20);
    eprintln!(
        "{} | server kills {kills}",
        summary("server restarted mid-drain", &c)
    );
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_on_the_server_is_filled_by_resending_from_the_expected_seq() {
    let w = busy_world(WorldOptions::default()).await;
    // The device believes seqs 1..=10 were answered, but the server never got them (as after a
    // server restored from an older backup).
    let mut store = w.store();
    let first: Vec<rsu_store::SyncResult> = store
        .pending_entries(10)
        .unwrap()
        .iter()
        .map(|e| rsu_store::SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: rsu_store::EntryOutcome::Applied,
        })
        .collect();
    store.record_results(&first).unwrap();
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    assert_eq!(r.resent_from, Some(1), "{r:?}");
    drain(&mut engine, 5).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_device_clock_is_corrected_from_the_401() {
    let w = busy_world(WorldOptions::default()).await;
    let mut store = w.store();
    // One hour behind: every signature is outside the ±300 s window.
    store.record_server_contact(Some(-3_600_000)).unwrap();
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    drain(&mut engine, 5).await;
    let st = rsu_sync::status::status(&w.device_db).unwrap();
    assert!(st.clock_offset_ms.abs() < 5_000, "{st:#?}");
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_under_the_low_water_mark_bring_a_top_up() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    assert_eq!(store.low_water_mark().unwrap(), 125);
    sell(&mut store, 80); // 200 - 80 = 120 left, under 125
    let mut engine = w.engine();
    let r = engine.round_now().await;
    assert!(r.error.is_none(), "{r:?}");
    let (start, end) = r.top_up.expect("a top-up");
    assert_eq!((start, end), (1201, 1300));
    let left: i64 = store.allocations().unwrap().iter().map(|a| a.left).sum();
    assert_eq!(left, 220);
    drain(&mut engine, 5).await;
    let r = engine.round_now().await;
    assert!(r.top_up.is_none(), "enough numbers now: {r:?}");
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_commands_are_applied_and_acknowledged() {
    let w = World::new(WorldOptions::default()).await;
    let mut store = w.store();
    sell(&mut store, 2);
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO rsu_commands (rsu_id, kind, event_id) VALUES ($1, 'suspend', $2) RETURNING id",
    )
    .bind(w.rsu_id)
    .bind(w.event_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    let mut settings = w.settings();
    settings.heartbeat_interval_secs = 0; // every round: the next contact carries the commands
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let r = engine.round_now().await;
    assert!(r.error.is_none() && r.heartbeat, "{r:?}");
    let refused = store.sell(&cash(one_ticket_package(&store)));
    assert!(refused.is_err(), "selling is suspended");
    let acked: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT acknowledged_at FROM rsu_commands WHERE id = $1")
            .bind(id)
            .fetch_one(w.pool())
            .await
            .unwrap();
    assert!(acked.is_some(), "the heartbeat acknowledged the command");
    sqlx::query("INSERT INTO rsu_commands (rsu_id, kind, event_id) VALUES ($1, 'resume', $2)")
        .bind(w.rsu_id)
        .bind(w.event_id)
        .execute(w.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE organizations SET config_version = config_version + 1")
        .execute(w.pool())
        .await
        .unwrap();
    // The heartbeat announces the new version; the next round pulls it.
    let _ = engine.round_now().await;
    let _ = engine.round_now().await;
    sell(&mut store, 1);
    drain(&mut engine, 5).await;
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_synced();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enrollment_without_the_device_key_is_refused_while_entries_are_pending() {
    // Issue 15 (defect 2) narrowed this rule: a database that still holds its key may enroll
    // again with entries pending (it proves continuity; rsu-sync/tests/lifecycle.rs). Without
    // the key nothing proves the pending entries are this RSU's, so it is refused as before.
    let w = World::new(WorldOptions::default()).await;
    let mut store = w.store();
    sell(&mut store, 1);
    let key_id = store.sync_identity().unwrap().key_id.unwrap();
    std::fs::remove_file(rsu_sync::keyfile::key_path(&w.device_db, key_id)).unwrap();
    let e = rsu_sync::enroll_async(&w.device_db, &w.proxy.url(), "any-token")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("have not reached the server"), "{e}");
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_started_by_mistake_exits_and_the_first_shuts_down_on_sigterm() {
    let w = busy_world(WorldOptions::default()).await;
    let bin = env!("CARGO_BIN_EXE_rsu-syncd");
    let spawn = || {
        std::process::Command::new(bin)
            .arg("--db")
            .arg(&w.device_db)
            .env("RSU_POLL_INTERVAL_MS", "20")
            .env("RSU_BACKOFF_BASE_MS", "10")
            .env("RSU_BACKOFF_CAP_MS", "100")
            .env_remove("RSU_SYNCD_CRASH_AT")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    let lock_file = rsu_sync::lock::lock_path(&w.device_db);
    // Locked, and the holder has written its pid (it does so right after taking the lock).
    while !rsu_sync::lock::DaemonLock::is_held(&w.device_db)
        || std::fs::read_to_string(&lock_file)
            .unwrap_or_default()
            .trim()
            != first.id().to_string()
    {
        assert!(
            Instant::now() < deadline,
            "the first daemon never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = spawn().wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(3), "{second:?}");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already syncing"), "{err}");
    assert!(
        err.contains(&first.id().to_string()),
        "names the running daemon's pid: {err}"
    );
    // The first one keeps working.
    let mut store = w.store();
    sell(&mut store, 5);
    while w.store().sync_counts().unwrap().pending_entries > 0 {
        assert!(Instant::now() < deadline, "the first daemon did not sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "graceful on SIGTERM: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rsu-syncd stopped"));
    assert!(!rsu_sync::lock::DaemonLock::is_held(&w.device_db));
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    eprintln!("{}", summary("second daemon", &c));
    w.drop_db().await;
}
