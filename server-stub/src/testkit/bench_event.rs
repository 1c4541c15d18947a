//! The organization and stadium event the benchmarks fill with RSUs and tickets.

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use crate::admin;

/// Creates "Bench Club" and a 50/50 event `identifier` selling now, with room for `max_tickets`;
/// returns (organization, event).
pub async fn bench_org_and_event(
    pool: &PgPool,
    identifier: &str,
    max_tickets: u64,
) -> anyhow::Result<(Uuid, Uuid)> {
    let e = |e: crate::AppError| anyhow::anyhow!("{e}");
    let org = admin::create_organization(
        pool,
        &admin::NewOrganization {
            name: "Bench Club".into(),
            license_number: "LIC-B".into(),
            currency: "USD".into(),
            validation_number_prefix: "B".into(),
            description: None,
        },
    )
    .await
    .map_err(e)?;
    let org: Uuid = serde_json::from_value(org["organizationId"].clone())?;
    let now = chrono::Utc::now();
    let ev = admin::create_event(
        pool,
        &admin::NewEvent {
            organization_id: org,
            venue_id: None,
            name: "Stadium 50/50".into(),
            event_identifier: identifier.into(),
            currency: None,
            sales_start_time: now - chrono::Duration::hours(3),
            sales_end_time: now + chrono::Duration::hours(3),
            draw_time: now + chrono::Duration::hours(4),
            max_tickets: i32::try_from(max_tickets).context("too many tickets")?,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 100,
            jackpot_seed_amount: 100_000,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: Some(5000),
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "x".into(),
            claim_deadline: "90 days after the draw".into(),
            rules_url: "x".into(),
            description: None,
        },
    )
    .await
    .map_err(e)?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    Ok((org, ev))
}
