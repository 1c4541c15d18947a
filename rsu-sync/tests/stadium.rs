//! A stadium 50/50 closed out honestly (issue 11, item 7): ten devices (real SQLite files, the
//! real server on a real PostgreSQL) sell with random offline windows, voids and reprints, top
//! up; one dies and its exported journal is imported, one is lost and excluded; every other
//! device closes. Then the reconciliation report must hold
//! `allocated = sold + voided + released (+ excluded)` for every range, its amounts must equal
//! the devices' own Z reports, and the draw gate must refuse until the last RSU is reconciled
//! or excluded. `RSU_STADIUM_DEVICES` and `RSU_STADIUM_ROUNDS` make it bigger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rsu_store::Store;
use server_stub::admin;
use server_stub::closeout::{self, ExcludeRsu};
use server_stub::import::{import_export, parse_export};
use std::path::PathBuf;
use uuid::Uuid;

struct Device {
    rsu_id: Uuid,
    path: PathBuf,
    store: Store,
    engine: rsu_sync::Engine,
    /// Stopped talking to the server (dead or lost).
    dark: bool,
    sold: Vec<String>,
}

async fn transition(w: &World, to: &str) -> Result<serde_json::Value, server_stub::AppError> {
    admin::transition(
        w.pool(),
        &admin::Transition {
            event_id: w.event_id,
            to: to.into(),
            reason: None,
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_devices_close_out_and_every_number_is_accounted_for_before_the_draw() {
    let devices_n = env_count("RSU_STADIUM_DEVICES", 10).max(4);
    let rounds = env_count("RSU_STADIUM_ROUNDS", 24);
    let w = World::new(WorldOptions { extra_numbers: 0 }).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let org: Uuid = sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
        .bind(w.rsu_id)
        .fetch_one(w.pool())
        .await
        .unwrap();
    let mut settings = w.settings();
    settings.heartbeat_interval_secs = 0;
    let mut devices = Vec::new();
    // Device 0 is the World's own (RSU 1, ranges 1001–1200); the others get 60 numbers each and
    // top up from the event's range when they run low.
    devices.push(Device {
        rsu_id: w.rsu_id,
        path: w.device_db.clone(),
        store: w.store(),
        engine: rsu_sync::Engine::open(&w.device_db, &settings).unwrap(),
        dark: false,
        sold: Vec::new(),
    });
    for i in 1..devices_n {
        let v = admin::create_rsu(
            w.pool(),
            &admin::NewRsu {
                organization_id: org,
                name: format!("RSU-{:03} Gate {i}", i + 1),
                rsu_no: None,
                venue_id: None,
                max_offline_tickets: Some(100_000),
                token_hours: 1,
            },
        )
        .await
        .unwrap();
        let rsu_id: Uuid = serde_json::from_value(v["rsuId"].clone()).unwrap();
        admin::create_allocation(
            w.pool(),
            &admin::NewAllocation {
                event_id: w.event_id,
                rsu_id,
                start_number: None,
                end_number: None,
                count: Some(60),
            },
        )
        .await
        .unwrap();
        let path = w.dir.path().join(format!("rsu{}.sqlite3", i + 1));
        let url = format!("http://{}", w.server.as_ref().unwrap().addr);
        // Ten devices on one machine: each needs its own hardware identifier (the only test in
        // this binary, so setting the variable races nothing).
        std::env::set_var("RSU_DEVICE_IDENTIFIER", format!("MAC:STADIUM:{i:02}"));
        rsu_sync::enroll_async(&path, &url, v["enrollmentToken"].as_str().unwrap())
            .await
            .unwrap();
        let mut s = settings.clone();
        s.db = Some(path.clone());
        let mut store = Store::open_existing(&path).unwrap();
        store.login(SELLER_PIN, None).unwrap();
        devices.push(Device {
            rsu_id,
            engine: rsu_sync::Engine::open(&path, &s).unwrap(),
            path,
            store,
            dark: false,
            sold: Vec::new(),
        });
    }
    let imported = devices_n - 2; // dies after closing; its export is imported
    let excluded = devices_n - 1; // lost for good
    let mut export_of_dead: Option<String> = None;
    let (mut sales, mut voids, mut reprints, mut top_ups) = (0u32, 0u32, 0u32, 0u32);
    for round in 0..rounds {
        if round == rounds / 2 {
            devices[excluded].dark = true;
        }
        if round == rounds * 3 / 4 {
            devices[imported].dark = true;
        }
        for d in devices.iter_mut() {
            for _ in 0..rng.gen_range(0..3) {
                let tickets = if rng.gen_bool(0.7) { 1 } else { 5 };
                let package = d
                    .store
                    .packages_on_sale()
                    .unwrap()
                    .into_iter()
                    .find(|p| p.ticket_count == tickets)
                    .unwrap()
                    .id;
                let mut req = cash(package);
                if rng.gen_bool(0.3) {
                    req.payment.method = rsu_core::payload::PaymentMethod::Card;
                    req.payment.reference = Some(format!("T-{}", rng.gen_range(1000..9999)));
                }
                match d.store.sell(&req) {
                    Ok(s) => {
                        d.store.mark_printed(s.id).unwrap();
                        d.sold.push(s.validation_number.clone());
                        sales += 1;
                    }
                    // Out of numbers while offline: the operator waits for the network.
                    Err(e) if e.code() == "allocation_exhausted" => {}
                    Err(e) => panic!("sale refused: {e}"),
                }
            }
            if !d.sold.is_empty() && rng.gen_bool(0.08) {
                let vn = d.sold[rng.gen_range(0..d.sold.len())].clone();
                if d.store
                    .void(&vn, SUPERVISOR_PIN, "customer changed mind")
                    .is_ok()
                {
                    voids += 1;
                }
            }
            if !d.sold.is_empty() && rng.gen_bool(0.08) {
                let vn = d.sold[d.sold.len() - 1].clone();
                if let Ok((s, _)) = d.store.reprint(&vn, Some(SUPERVISOR_PIN)) {
                    d.store.mark_printed(s.id).unwrap();
                    reprints += 1;
                }
            }
            // Random offline windows: a third of the rounds without the network.
            if !d.dark && rng.gen_bool(0.66) {
                let r = d.engine.round_now().await;
                if r.top_up.is_some() {
                    top_ups += 1;
                }
            }
        }
    }
    assert!(top_ups > 0, "the devices topped up");
    // The dead device closed before it died; its journal is exported from its database.
    devices[imported]
        .store
        .close_device(SUPERVISOR_PIN)
        .unwrap();
    {
        let mut out = Vec::new();
        rsu_sync::export::write_signed_export(&devices[imported].path, &mut out).unwrap();
        export_of_dead = Some(String::from_utf8(out).unwrap()).or(export_of_dead);
    }

    // Sales close; every live device is closed by its supervisor and drains.
    transition(&w, "sales_closed").await.unwrap();
    let mut z_totals: std::collections::HashMap<Uuid, (i64, i64)> = Default::default();
    for (i, d) in devices.iter_mut().enumerate() {
        if d.dark {
            continue;
        }
        let closed = d.store.close_device(SUPERVISOR_PIN).unwrap();
        assert!(closed.numbers_released > 0, "device {i} released its rest");
        drain(&mut d.engine, 50).await;
    }
    // Each device's own Z reports (every shift it closed), for the comparison below.
    for d in devices.iter() {
        let mut stmt = d
            .store
            .connection()
            .prepare("SELECT z_report_json FROM shifts WHERE z_report_json IS NOT NULL")
            .unwrap();
        let zs: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let entry = z_totals.entry(d.rsu_id).or_default();
        for z in zs {
            let z: serde_json::Value = serde_json::from_str(&z).unwrap();
            entry.0 += z["salesAmount"].as_i64().unwrap();
            entry.1 += z["voidsAmount"].as_i64().unwrap();
        }
    }
    transition(&w, "reconciling").await.unwrap();

    // The gate refuses, naming exactly the dead and the lost device.
    let e = transition(&w, "reconciled").await.unwrap_err();
    assert_eq!(e.code, "reconciliation_blocked", "{}", e.message);
    let report = server_stub::report::event_report(w.pool(), w.event_id)
        .await
        .unwrap();
    let mut blocking: Vec<Uuid> = report.blocking.iter().map(|b| b.rsu_id).collect();
    blocking.sort();
    let mut expect = vec![devices[imported].rsu_id, devices[excluded].rsu_id];
    expect.sort();
    assert_eq!(blocking, expect, "{:#?}", report.blocking);

    // The dead device's journal is imported; the gate still waits for the lost one.
    let file = parse_export(export_of_dead.as_deref().unwrap()).unwrap();
    let imp = import_export(w.pool(), devices[imported].rsu_id, &file, |_, _| {})
        .await
        .unwrap();
    assert!(imp.applied > 0, "{imp:?}");
    let e = transition(&w, "reconciled").await.unwrap_err();
    assert_eq!(e.code, "reconciliation_blocked", "{}", e.message);
    let report = server_stub::report::event_report(w.pool(), w.event_id)
        .await
        .unwrap();
    let blocking: Vec<Uuid> = report.blocking.iter().map(|b| b.rsu_id).collect();
    assert_eq!(
        blocking,
        vec![devices[excluded].rsu_id],
        "{:#?}",
        report.blocking
    );
    closeout::exclude_rsu(
        w.pool(),
        &ExcludeRsu {
            event_id: w.event_id,
            rsu_id: devices[excluded].rsu_id,
            reason: "lost at gate 4".into(),
            lost: true,
        },
        Some("stadium manager"),
    )
    .await
    .unwrap();
    let report = server_stub::report::event_report(w.pool(), w.event_id)
        .await
        .unwrap();
    assert!(report.blocking.is_empty(), "{:#?}", report.blocking);

    // The identity, range by range, and the money against the devices' Z reports.
    let mut ranges = 0;
    for r in &report.rsus {
        for g in &r.ranges {
            let n = &g.numbers;
            // The excluded RSU's unaccounted numbers are its excluded ones (checked below).
            assert_eq!(
                n.allocated,
                n.sold + n.voided + n.released + n.resolved_rejected + n.unaccounted,
                "RSU {} range {}–{}: {n:?}",
                r.rsu_no,
                g.start_number,
                g.end_number
            );
            if r.rsu_id != devices[excluded].rsu_id {
                assert_eq!(
                    n.unaccounted, 0,
                    "RSU {} range {}",
                    r.rsu_no, g.start_number
                );
            }
            ranges += 1;
        }
        if r.rsu_id != devices[excluded].rsu_id {
            let (sold, voided) = z_totals[&r.rsu_id];
            assert_eq!(
                r.amounts.all.gross - r.amounts.all.voided,
                sold - voided,
                "RSU {}: the server's net must equal the device's Z reports",
                r.rsu_no
            );
        }
    }
    let excluded_report = report
        .rsus
        .iter()
        .find(|r| r.rsu_id == devices[excluded].rsu_id)
        .unwrap();
    assert_eq!(excluded_report.status, "excluded");
    assert!(excluded_report.numbers.excluded > 0);
    assert_eq!(
        excluded_report.numbers.excluded,
        excluded_report
            .ranges
            .iter()
            .map(|g| g.numbers.unaccounted)
            .sum::<i64>(),
        "every number the lost device may have sold is excluded from the draw"
    );
    assert!(!excluded_report.excluded_numbers.is_empty());
    transition(&w, "reconciled").await.unwrap();
    eprintln!(
        "stadium: {devices_n} devices, {rounds} rounds, {sales} sales, {voids} voids, {reprints} reprints, {top_ups} top-ups, {ranges} ranges; imported {} entries; totals {:?}",
        imp.applied, report.totals.numbers
    );
    w.drop_db().await;
}
