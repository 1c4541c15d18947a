//! Enrollment and the first configuration pull.

use axum::http::StatusCode;
use rsu_core::wire::{self};
use server_stub::testkit::Fixture;

use crate::helpers::*;

#[tokio::test]
async fn enrollment_and_config_pull_serve_the_demo() -> R {
    let f = Fixture::new().await?;
    let (st, v) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let cfg: wire::ConfigResponse = serde_json::from_value(v)?;
    assert_eq!(cfg.epoch, 1);
    assert_eq!(cfg.config.organization.license_number, "LIC-2026-0042");
    assert_eq!(
        cfg.config
            .organization
            .rsu_settings
            .validation_number_prefix,
        "RSU"
    );
    let ev = &cfg.config.events[0];
    assert_eq!(ev.name, "Summer Festival Raffle");
    let mut p: Vec<(u32, i64)> = ev
        .packages
        .iter()
        .map(|p| (p.ticket_count, p.price.minor))
        .collect();
    p.sort();
    assert_eq!(p, vec![(1, 500), (5, 2000), (25, 5000)]);
    assert_eq!(ev.jackpot_current.as_ref().map(|j| j.amount), Some(100_000));
    let allocs: Vec<(i64, i64)> = cfg
        .config
        .allocations
        .iter()
        .map(|a| (a.start_number, a.end_number))
        .collect();
    assert_eq!(allocs, vec![(1001, 1100), (1101, 1200)]);
    let seller = cfg
        .config
        .operators
        .iter()
        .find(|o| o.role == rsu_core::config::Role::Seller)
        .expect("seller");
    let sup = cfg
        .config
        .operators
        .iter()
        .find(|o| o.role == rsu_core::config::Role::Supervisor)
        .expect("supervisor");
    assert!(rsu_core::pin::verify_pin("1111", &seller.pin_hash)?);
    assert!(rsu_core::pin::verify_pin("9999", &sup.pin_hash)?);
    assert!(!rsu_core::pin::verify_pin("1111", &sup.pin_hash)?);
    f.drop_db().await;
    Ok(())
}
