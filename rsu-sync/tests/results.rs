//! The draw's results and the receipts' signatures, end to end on the real server and a real
//! device database (issue 12 items 4 and 6, issue 13 item 3): the server draws, rsu-syncd pulls
//! the configuration that carries the results into the store, and the kiosk's ticket check
//! answers from the store with the network gone; a redraw replaces the winner on the device; a
//! receipt QR signed the way the kiosk signs it verifies with the server's `verify-receipt` and a
//! one-byte forgery does not; and the printer condition the kiosk records is what the server
//! stores from the heartbeat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rsu_core::printer_status::PrinterCondition;
use rsu_store::TicketCheck;
use server_stub::admin;
use server_stub::claims::{self, VerifyReceipt};
use server_stub::draw::cli;
use std::collections::HashMap;

const ADMIN: &str = "Ann Admin";

async fn transition(w: &World, to: &str) {
    admin::transition(
        w.pool(),
        &admin::Transition {
            event_id: w.event_id,
            to: to.into(),
            reason: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("transition to {to}: {e}"));
}

/// An engine that heartbeats every round, so a new configuration version is seen at once.
fn eager_engine(w: &World) -> rsu_sync::Engine {
    let mut s = w.settings();
    s.heartbeat_interval_secs = 0;
    rsu_sync::Engine::open(&w.device_db, &s).expect("engine")
}

/// The server's current winners: validation number → (prize name, value, draw number).
async fn server_winners(w: &World) -> HashMap<String, (String, i64, u32)> {
    let rows: Vec<(String, String, i64, i32)> = sqlx::query_as(
        "SELECT o.validation_number, p.name, r.prize_value_at_draw, r.winning_number
           FROM draw_results r
           JOIN draw_executions x ON x.id = r.draw_execution_id
           JOIN prizes p ON p.id = r.prize_id
           JOIN tickets t ON t.id = r.winning_ticket_id
           JOIN orders o ON o.id = t.order_id
          WHERE x.event_id = $1 AND r.superseded_by IS NULL",
    )
    .bind(w.event_id)
    .fetch_all(w.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(vn, name, value, n)| (vn, (name, value, n as u32)))
        .collect()
}

/// Runs rounds until the store holds results with `version` or newer.
async fn pull_results(engine: &mut rsu_sync::Engine, w: &World, min_version: i64) {
    for _ in 0..10 {
        engine.round_now().await;
        let mut store = w.store();
        if store.status().unwrap().config_version >= min_version
            && store.latest_results().unwrap().is_some()
        {
            return;
        }
    }
    panic!("the device never pulled configuration version {min_version} with results");
}

async fn org_version(w: &World) -> i64 {
    sqlx::query_scalar(
        "SELECT o.config_version FROM organizations o JOIN events e ON e.organization_id = o.id WHERE e.id = $1",
    )
    .bind(w.event_id)
    .fetch_one(w.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_draw_reaches_the_device_and_tickets_are_checked_offline() {
    let mut w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = eager_engine(&w);
    let sales = sell(&mut store, 12);
    drain(&mut engine, 20).await;

    // The event closes, the device closes and syncs, the gate opens, the server draws.
    transition(&w, "sales_closed").await;
    store.close_device(SUPERVISOR_PIN).unwrap();
    drain(&mut engine, 20).await;
    for s in ["reconciling", "reconciled", "drawing_ready"] {
        transition(&w, s).await;
    }
    let before = org_version(&w).await;
    cli::draw(
        w.pool(),
        &cli::Draw {
            event_id: w.event_id,
            beacon: Some("lottery 04 19 27".into()),
        },
        Some(ADMIN),
    )
    .await
    .unwrap();
    let version = org_version(&w).await;
    assert!(
        version > before,
        "the draw changes the configuration version"
    );
    let winners = server_winners(&w).await;
    assert_eq!(winners.len(), 1, "the demo's one 50/50 place: {winners:?}");

    // rsu-syncd pulls the configuration that carries the results.
    pull_results(&mut engine, &w, version).await;
    let results = store
        .current_results()
        .unwrap()
        .expect("results on the device");
    assert_eq!(results.ticket_count, 12);
    let jackpot: i64 = sqlx::query_scalar(
        "SELECT (jackpot->>'amount')::int8 FROM draw_executions WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(w.event_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    // The demo's rule: 50 % of the net sales (12 × $5.00), at least the $1,000.00 seed.
    assert_eq!(jackpot, 100_000);
    assert_eq!(results.final_jackpot.map(|m| m.minor), Some(jackpot));
    assert_eq!(
        store.status().unwrap().event_state.as_deref(),
        Some("completed")
    );

    // The network goes away; the kiosk's check answers from the store alone.
    w.proxy.refuse();
    if let Some(s) = w.server.take() {
        s.kill();
    }
    let mut winners_seen = 0;
    for sale in &sales {
        match store
            .check_ticket(&sale.validation_number.to_lowercase())
            .unwrap()
        {
            TicketCheck::Winner {
                validation_number,
                wins,
                ..
            } => {
                let (name, value, number) = &winners[&validation_number];
                assert_eq!(wins.len(), 1);
                assert_eq!(&wins[0].prize_name, name);
                assert_eq!(wins[0].prize_value.minor, *value);
                assert_eq!(wins[0].draw_number, *number);
                winners_seen += 1;
            }
            TicketCheck::NotAWinner {
                validation_number, ..
            } => {
                assert!(!winners.contains_key(&validation_number));
            }
            other => panic!("{}: {other:?}", sale.validation_number),
        }
    }
    assert_eq!(winners_seen, 1);
    assert!(matches!(
        store.check_ticket("RSU001-2026-00001").unwrap(),
        TicketCheck::Malformed { .. }
    ));
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redraw_replaces_the_winner_on_the_device() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = eager_engine(&w);
    sell(&mut store, 6);
    drain(&mut engine, 20).await;
    transition(&w, "sales_closed").await;
    store.close_device(SUPERVISOR_PIN).unwrap();
    drain(&mut engine, 20).await;
    for s in ["reconciling", "reconciled", "drawing_ready"] {
        transition(&w, s).await;
    }
    cli::draw(
        w.pool(),
        &cli::Draw {
            event_id: w.event_id,
            beacon: None,
        },
        Some(ADMIN),
    )
    .await
    .unwrap();
    pull_results(&mut engine, &w, org_version(&w).await).await;
    let first: Vec<String> = server_winners(&w).await.into_keys().collect();
    assert!(matches!(
        store.check_ticket(&first[0]).unwrap(),
        TicketCheck::Winner { .. }
    ));

    // Nobody claimed by the deadline: the prize is redrawn, and the redraw is what the device shows.
    sqlx::query("UPDATE events SET configuration = jsonb_set(configuration, '{jurisdiction,claimDeadline}', '\"2000-01-01\"') WHERE id = $1")
        .bind(w.event_id)
        .execute(w.pool())
        .await
        .unwrap();
    let before = org_version(&w).await;
    cli::redraw(
        w.pool(),
        &cli::Redraw {
            event_id: w.event_id,
            reason: "unclaimed after the deadline, rules §7".into(),
            beacon: None,
        },
        Some(ADMIN),
    )
    .await
    .unwrap();
    let version = org_version(&w).await;
    assert!(
        version > before,
        "the redraw changes the configuration version"
    );
    pull_results(&mut engine, &w, version).await;
    let now: Vec<String> = server_winners(&w).await.into_keys().collect();
    assert_eq!(now.len(), 1);
    assert_ne!(now, first);
    match store.check_ticket(&now[0]).unwrap() {
        TicketCheck::Winner { wins, .. } => assert!(wins[0].redrawn, "{wins:?}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.check_ticket(&first[0]).unwrap(),
        TicketCheck::NotAWinner { .. }
    ));
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_qr_signed_as_the_kiosk_signs_verifies_on_the_server_and_a_forgery_does_not() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut store = w.store();
    let mut engine = w.engine();
    let sale = sell(&mut store, 1).remove(0);
    drain(&mut engine, 20).await;

    // The kiosk's path (rsu-app `receipt_qr::sign_and_store`): the enrolled key from its file,
    // then the shared signing of rsu-store.
    let key_id = store.key_state().unwrap().key_id.expect("an enrolled key");
    let key = rsu_sync::keyfile::load(&w.device_db, key_id).unwrap();
    let qr = rsu_store::sign_receipt_qr(&key, key_id, &sale)
        .unwrap()
        .to_string();
    let v = claims::verify_receipt(w.pool(), &VerifyReceipt { qr: qr.clone() })
        .await
        .unwrap_or_else(|e| panic!("{qr} refused: {e}"));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["validationNumber"], sale.validation_number.as_str());
    assert!(v["order"].is_object(), "the server matched the sale: {v}");

    // One byte changed anywhere after the version: refused (not canonical, or a bad signature).
    let mut refused = 0;
    for i in (3..qr.len()).step_by(7) {
        let mut bytes = qr.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap();
        let r = claims::verify_receipt(w.pool(), &VerifyReceipt { qr: forged.clone() }).await;
        assert!(r.is_err(), "the forgery {forged} verified: {r:?}");
        refused += 1;
    }
    assert!(refused > 10);
    w.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printer_condition_the_kiosk_recorded_is_what_the_server_stores_from_the_heartbeat() {
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let store = w.store();
    let mut engine = eager_engine(&w);
    let stored = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT printer_status FROM rsu_epochs WHERE rsu_id = $1 ORDER BY epoch DESC LIMIT 1",
        )
        .bind(w.rsu_id)
        .fetch_one(w.pool())
        .await
        .unwrap()
    };
    let r = engine.round_now().await;
    assert!(r.heartbeat, "{r:?}");
    assert_eq!(
        stored().await.as_deref(),
        Some("unknown"),
        "nothing printed yet"
    );

    store
        .record_printer_status(
            PrinterCondition::PaperOut,
            Some("the printer is out of paper"),
        )
        .unwrap();
    let r = engine.round_now().await;
    assert!(r.heartbeat, "{r:?}");
    assert_eq!(stored().await.as_deref(), Some("paper_out"));

    store
        .record_printer_status(PrinterCondition::Ok, None)
        .unwrap();
    engine.round_now().await;
    assert_eq!(stored().await.as_deref(), Some("ok"));
    w.drop_db().await;
}
