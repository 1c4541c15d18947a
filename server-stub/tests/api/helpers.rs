//! Helpers shared by the topic modules.

use chrono::{Duration, Utc};
use rsu_core::journal::{ChainHash, JournalEntry};
use serde_json::Value;
use server_stub::admin;
use server_stub::testkit::{http_request, Fixture, Pkg};
use uuid::Uuid;

pub type R = anyhow::Result<()>;

pub fn results(v: &Value) -> Vec<(String, Option<String>)> {
    v["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["status"].as_str().unwrap_or("?").to_string(),
                        r["code"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn sale_value(e: &JournalEntry) -> Value {
    e.body.payload.clone()
}

/// Re-chains `entries` after `prev` (after a test edited payloads on purpose).
pub fn rechain(entries: &mut [JournalEntry], mut prev: ChainHash) {
    for e in entries.iter_mut() {
        let c = e.body.clone().chain(prev).expect("chain");
        *e = c;
        prev = e.hash;
    }
}

/// An extra event of the demo organization in `state`, with one 1-ticket package and an
/// allocation for the device; returns (event id, package).
pub async fn extra_event(
    f: &Fixture,
    ident: &str,
    state: &[&str],
    price_lock: bool,
    start: i64,
) -> anyhow::Result<(Uuid, Pkg)> {
    let now = Utc::now();
    let ev = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: f.org_id,
            venue_id: None,
            name: format!("Event {ident}"),
            event_identifier: ident.into(),
            currency: Some("USD".into()),
            sales_start_time: now - Duration::hours(2),
            sales_end_time: now + Duration::days(1),
            draw_time: now + Duration::days(2),
            max_tickets: 100_000,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 100,
            jackpot_seed_amount: 0,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: None,
            price_lock,
            offline_sales_allowed: true,
            responsible_gaming_text: "Play responsibly".into(),
            claim_deadline: "90 days".into(),
            rules_url: "https://example.org".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let (from, to) = if price_lock {
        (None, None)
    } else {
        (
            Some(now + Duration::hours(5)),
            Some(now + Duration::hours(6)),
        )
    };
    let p = admin::create_package(
        &f.db.pool,
        &admin::NewPackage {
            event_id: ev,
            name: "One".into(),
            ticket_count: 1,
            price: 500,
            display_order: 0,
            active_from: from,
            active_to: to,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pid: Uuid = serde_json::from_value(p["packageId"].clone())?;
    admin::create_allocation(
        &f.db.pool,
        &admin::NewAllocation {
            event_id: ev,
            rsu_id: f.device.rsu_id,
            start_number: Some(start),
            end_number: Some(start + 99),
            count: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    admin::create_prize(
        &f.db.pool,
        &admin::NewPrize {
            event_id: ev,
            name: "50/50".into(),
            kind: "percentage".into(),
            value: None,
            percentage_bp: Some(5000),
            position: 1,
            winner_count: 1,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for s in state {
        if *s == "reconciled" {
            // The draw gate (issue 11) waits for every RSU holding an allocation: this device
            // never syncs this event, so it is excluded.
            server_stub::closeout::exclude_rsu(
                &f.db.pool,
                &server_stub::closeout::ExcludeRsu {
                    event_id: ev,
                    rsu_id: f.device.rsu_id,
                    reason: "test event: the device never sells here".into(),
                    lost: false,
                },
                Some("test"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        admin::transition(
            &f.db.pool,
            &admin::Transition {
                event_id: ev,
                to: (*s).into(),
                reason: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((
        ev,
        Pkg {
            id: pid,
            name: "One".into(),
            ticket_count: 1,
            price: 500,
        },
    ))
}

pub async fn wait_up(addr: std::net::SocketAddr) -> R {
    for _ in 0..200 {
        if let Ok((200, _)) = http_request(addr, "GET", "/health", &[], b"").await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("server did not come up on {addr}")
}
