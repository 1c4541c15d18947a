//! A dead device's journal, exported on the device (`rsu-app export`) and imported on the
//! server (`server-stub admin import-journal`), issue 11 item 6: real device database, real
//! server, real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use server_stub::import::{import_export, parse_export};

async fn orders(w: &World) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders WHERE rsu_id = $1")
        .bind(w.rsu_id)
        .fetch_one(w.pool())
        .await
        .unwrap()
}

fn export(w: &World) -> String {
    let mut out = Vec::new();
    let trailer = rsu_sync::export::write_signed_export(&w.device_db, &mut out).unwrap();
    assert!(trailer.signature.is_some());
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_devices_export_applies_only_what_is_new_once_and_keeps_the_device_lost() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = w.engine();
    sell(&mut store, 5);
    drain(&mut engine, 20).await;
    // Seven more sales that never sync, then the supervisor closes the device; it dies.
    sell(&mut store, 7);
    let closed = store.close_device(SUPERVISOR_PIN).unwrap();
    assert_eq!(closed.numbers_released, 200 - 12);
    drop(engine);
    let text = export(&w);
    let pending = store.sync_counts().unwrap().pending_entries;
    // The device is reported lost (its keys are revoked): its export still proves who wrote it.
    server_stub::lifecycle::set_rsu_state(
        w.pool(),
        &server_stub::lifecycle::SetRsuState {
            rsu_id: w.rsu_id,
            state: "lost".into(),
            reason: "battery dead, journal exported".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(orders(&w).await, 5);
    let file = parse_export(&text).unwrap();
    let mut calls = 0;
    let r = import_export(w.pool(), w.rsu_id, &file, |_, _| calls += 1)
        .await
        .unwrap();
    assert_eq!(r.applied, pending, "{r:?}");
    assert_eq!(r.already_held + r.applied, r.entries_in_file);
    assert_eq!((r.rejected, r.conflicts), (0, 0), "{r:?}");
    assert!(calls >= 2, "progress is reported");
    assert_eq!(orders(&w).await, 12);
    // The releases arrived: the range is released on the server from the device's position.
    let released_from: Option<i32> = sqlx::query_scalar(
        "SELECT released_from FROM rsu_allocations WHERE rsu_id = $1 AND start_number = 1001",
    )
    .bind(w.rsu_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(released_from, Some(1013));
    // Twice: nothing new.
    let again = import_export(w.pool(), w.rsu_id, &file, |_, _| {})
        .await
        .unwrap();
    assert_eq!((again.applied, again.batches), (0, 0), "{again:?}");
    assert_eq!(again.already_held, again.entries_in_file);
    assert_eq!(orders(&w).await, 12);
    check(&w.device_db, w.pool(), w.rsu_id)
        .await
        .assert_consistent();
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_foreign_or_unsigned_export_is_refused_and_changes_nothing() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    sell(&mut store, 4);
    let text = export(&w);
    // One sale's amount changed: refused at that entry, with its seq.
    let lines: Vec<&str> = text.lines().collect();
    let (idx, line) = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("\"kind\":\"sale\""))
        .nth(1)
        .unwrap();
    let seq = serde_json::from_str::<serde_json::Value>(line).unwrap()["entry"]["seq"]
        .as_u64()
        .unwrap();
    let forged = line.replacen("\"totalAmount\":500", "\"totalAmount\":5", 1);
    assert_ne!(&forged, line, "the test changes something");
    let mut tampered = lines.clone();
    tampered[idx] = &forged;
    let file = parse_export(&tampered.join("\n")).unwrap();
    let e = import_export(w.pool(), w.rsu_id, &file, |_, _| {})
        .await
        .unwrap_err();
    assert!(e.message.contains(&format!("entry {seq}")), "{}", e.message);
    assert!(e.message.contains("nothing was imported"), "{}", e.message);
    // A file of this RSU imported for another RSU.
    let file = parse_export(&text).unwrap();
    let e = import_export(w.pool(), uuid::Uuid::now_v7(), &file, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(e.code, "wrong_rsu", "{}", e.message);
    // Unsigned (a demo database has no key).
    let mut unsigned = parse_export(&text).unwrap();
    unsigned.trailer.signature = None;
    let e = import_export(w.pool(), w.rsu_id, &unsigned, |_, _| {})
        .await
        .unwrap_err();
    assert!(e.message.contains("not signed"), "{}", e.message);
    // A changed trailer (an entry count that is not the file's) breaks the signature.
    let mut lying = parse_export(&text).unwrap();
    lying.trailer.epochs[0].entries += 1;
    let e = import_export(w.pool(), w.rsu_id, &lying, |_, _| {})
        .await
        .unwrap_err();
    assert!(e.message.contains("signature"), "{}", e.message);
    // A file cut short: no trailer.
    let cut: Vec<&str> = text.lines().take(3).collect();
    let e = parse_export(&cut.join("\n")).unwrap_err();
    assert!(e.message.contains("no trailer"), "{}", e.message);
    assert_eq!(orders(&w).await, 0, "nothing of a refused file was applied");
    w.drop_db().await;
}
