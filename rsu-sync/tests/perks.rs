//! Perks end to end (issue 14 item 1) on the real server and a real device database: the manager
//! makes a perk with an inventory of 3 and puts it in a package; the device gets a block of 2 at
//! its pull and sells them offline; the third sale is refused on the device (never oversold);
//! after a sync the server tops the device up with the one unit left; the claim desk claims a
//! code once; the device closes and gives back what it did not issue; the server's perk report
//! shows allocated / issued / claimed / released for the device, and nothing was rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rsu_core::event::SaleRefusal;
use rsu_store::StoreError;
use server_stub::perks::{admin as perks, claim, report};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_perk_is_sold_offline_topped_up_claimed_once_and_released_at_close() {
    let w = World::new(WorldOptions::default()).await;
    let org: Uuid = sqlx::query_scalar("SELECT organization_id FROM events WHERE id = $1")
        .bind(w.event_id)
        .fetch_one(w.pool())
        .await
        .unwrap();
    let package = one_ticket_package(&w.store());
    let made = perks::create_perk(
        w.pool(),
        &perks::NewPerk {
            organization_id: org,
            name: "VIP Parking".into(),
            description: "Lot A".into(),
            kind: "benefit".into(),
            category: "parking".into(),
            requires_inventory: true,
            inventory_total: Some(3),
            block_size: Some(2),
            metadata: None,
        },
    )
    .await
    .expect("the perk");
    let perk: Uuid = made["perkId"].as_str().unwrap().parse().unwrap();
    perks::add_package_perk(
        w.pool(),
        &perks::AddPackagePerk {
            package_id: package,
            perk_id: perk,
        },
    )
    .await
    .expect("the package includes the perk");

    // The pull brings the perk, the package's perk list and a first block of 2.
    // An engine that heartbeats every round, so a new configuration version is seen at once.
    let mut settings = w.settings();
    settings.heartbeat_interval_secs = 0;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).expect("engine");
    for _ in 0..3 {
        engine.round_now().await;
    }
    let mut store = w.store();
    let offline = |store: &mut rsu_store::Store| store.sell(&cash(package));
    let first = sell(&mut store, 2);
    for s in &first {
        assert_eq!(
            s.perks.len(),
            1,
            "every sale of the package issues the perk"
        );
        assert_eq!(s.perks[0].perk_name, "VIP Parking");
        assert!(s.perks[0]
            .claim_code
            .starts_with(&s.validation_number[..18]));
    }
    // The block is used up: the device refuses rather than oversell, and writes nothing.
    match offline(&mut store) {
        Err(StoreError::Refused(SaleRefusal::PerkUnavailable { perk, .. })) => {
            assert_eq!(perk, "VIP Parking")
        }
        other => panic!("expected perk_unavailable, got {other:?}"),
    }

    // A sync: the two sales reach the server, which tops the device up with the last unit.
    for _ in 0..3 {
        engine.round_now().await;
    }
    let third = sell(&mut store, 1);
    assert_eq!(third[0].perks.len(), 1);
    for _ in 0..3 {
        engine.round_now().await;
    }
    // The inventory of 3 is gone everywhere: no fourth unit.
    assert!(matches!(
        offline(&mut store),
        Err(StoreError::Refused(SaleRefusal::PerkUnavailable { .. }))
    ));

    // The claim desk: once, then refused.
    let code = first[0].perks[0].claim_code.clone();
    let by = Some("Desk Dana");
    claim::claim_perk(
        w.pool(),
        &claim::ClaimPerk {
            code: code.to_lowercase(),
            organization_id: None,
        },
        by,
    )
    .await
    .expect("the first claim");
    let again = claim::claim_perk(
        w.pool(),
        &claim::ClaimPerk {
            code: code.clone(),
            organization_id: None,
        },
        by,
    )
    .await
    .expect_err("a second claim is refused");
    assert!(again.to_string().contains("Desk Dana"), "{again}");

    // Close: the device gives back what it did not issue (nothing here) and the server agrees.
    let closed = store.close_device(SUPERVISOR_PIN).expect("the close");
    assert_eq!(closed.perks_released.len(), 1, "{closed:?}");
    assert_eq!(closed.perks_released[0].issued, 3);
    assert_eq!(closed.perks_released[0].released, 0);
    for _ in 0..3 {
        engine.round_now().await;
    }
    let rejected: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM device_journal WHERE rsu_id = $1 AND status <> 'applied'",
    )
    .bind(w.rsu_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(rejected, 0, "the server applied every entry");
    let rep = report::perk_report(
        w.pool(),
        &report::PerkReport {
            event_id: w.event_id,
        },
    )
    .await
    .expect("the perk report");
    let line = &rep["rsus"][0]["perks"][0];
    assert_eq!(line["allocated"], 3, "{rep}");
    assert_eq!(line["issued"], 3, "{rep}");
    assert_eq!(line["claimed"], 1, "{rep}");
    assert_eq!(line["released"], 0, "{rep}");
    assert_eq!(line["closed"], true, "{rep}");
    w.drop_db().await;
}
