//! The demo: the same organization, event, packages, operators and allocations as the kiosk's
//! `rsu-app demo-init`, built with the admin operations.

use chrono::{Duration, Utc};
use rsu_core::event::EventState;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::admin::{
    create_allocation, create_event, create_operator, create_organization, create_package,
    create_prize, create_rsu, create_venue, issue_token, transition, NewAllocation, NewEvent,
    NewOperator, NewOrganization, NewPackage, NewPrize, NewRsu, NewVenue, Transition,
};
use crate::error::{AppError, AppResult};

/// The demo is the kiosk's (`rsu_store::demo_config`, `rsu-app demo-init`): the same
/// organization, event, packages, prices, operators and allocations, so a device enrolled with a
/// seeded server sells the packages the kiosk demo and the README name ("5 tickets").
pub const DEMO_ORGANIZATION: &str = "Riverside Community Foundation";
pub const DEMO_EVENT: &str = "Summer Festival Raffle";

/// The same demo as the kiosk's `rsu-app demo-init`: an organization with a licence number,
/// "Summer Festival Raffle" active now, packages 1 ticket $5 / 5 tickets $20 / 25 tickets $50,
/// a seller (PIN 1111) and a supervisor (PIN 9999), RSU 1 with allocations 1001–1100 and
/// 1101–1200, and a fresh enrollment token. Run again, it only issues a new token.
pub async fn demo_seed(pool: &PgPool) -> AppResult<Value> {
    let existing: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT o.id, r.id FROM organizations o JOIN rsus r ON r.organization_id = o.id AND r.rsu_no = 1
          WHERE o.name = $1 ORDER BY o.created_at LIMIT 1",
    )
    .bind(DEMO_ORGANIZATION)
    .fetch_optional(pool)
    .await?;
    if let Some((org, rsu)) = existing {
        let (token, expires) = issue_token(pool, rsu, 72).await?;
        return Ok(
            json!({"organizationId": org, "rsuId": rsu, "rsuNo": 1, "enrollmentToken": token,
                         "tokenExpiresAt": expires, "alreadySeeded": true}),
        );
    }
    let id_of = |v: &Value, k: &str| -> AppResult<Uuid> {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| AppError::internal("demo-seed", format!("missing {k}")))
    };
    let org = create_organization(
        pool,
        &NewOrganization {
            name: DEMO_ORGANIZATION.into(),
            license_number: "LIC-2026-0042".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: Some("Demo organization".into()),
        },
    )
    .await?;
    let org = id_of(&org, "organizationId")?;
    let venue = create_venue(
        pool,
        &NewVenue {
            organization_id: org,
            name: "Riverside Park".into(),
            timezone: "UTC".into(),
            capacity: Some(500),
        },
    )
    .await?;
    let venue = id_of(&venue, "venueId")?;
    let now = Utc::now();
    let sales_end = now + Duration::days(30);
    let draw_time = sales_end + Duration::hours(1);
    let ev = create_event(
        pool,
        &NewEvent {
            organization_id: org,
            venue_id: Some(venue),
            name: DEMO_EVENT.into(),
            event_identifier: "RAFFLE-2026-001".into(),
            currency: Some("USD".into()),
            sales_start_time: now - Duration::hours(1),
            sales_end_time: sales_end,
            draw_time,
            max_tickets: 200_000,
            rsu_range_start: Some(1001),
            rsu_range_end: Some(50_000),
            default_allocation_size: 100,
            jackpot_seed_amount: 100_000,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: Some(5000),
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "Play responsibly. Help: 1-800-522-4700".into(),
            // Printed after "Claim by " on the receipt.
            claim_deadline: format!(
                "{} (90 days after the draw)",
                (draw_time + Duration::days(90)).format("%Y-%m-%d")
            ),
            rules_url: "https://example.org/raffle-rules".into(),
            description: Some("Annual summer fundraiser raffle".into()),
        },
    )
    .await?;
    let ev = id_of(&ev, "eventId")?;
    for (name, count, price, order) in [
        ("1 ticket", 1, 500, 1),
        ("5 tickets", 5, 2000, 2),
        ("25 tickets", 25, 5000, 3),
    ] {
        create_package(
            pool,
            &NewPackage {
                event_id: ev,
                name: name.into(),
                ticket_count: count,
                price,
                display_order: order,
                active_from: None,
                active_to: None,
            },
        )
        .await?;
    }
    create_prize(
        pool,
        &NewPrize {
            event_id: ev,
            name: "50/50 Winner".into(),
            kind: "percentage".into(),
            value: None,
            percentage_bp: Some(5000),
            position: 1,
            winner_count: 1,
        },
    )
    .await?;
    let seller = create_operator(
        pool,
        &NewOperator {
            organization_id: org,
            name: "Sam Seller".into(),
            role: "seller".into(),
            pin: "1111".into(),
        },
    )
    .await?;
    let supervisor = create_operator(
        pool,
        &NewOperator {
            organization_id: org,
            name: "Pat Supervisor".into(),
            role: "supervisor".into(),
            pin: "9999".into(),
        },
    )
    .await?;
    for to in [EventState::Configured, EventState::Active] {
        transition(
            pool,
            &Transition {
                event_id: ev,
                to: to.as_str().into(),
                reason: Some("demo-seed".into()),
            },
        )
        .await?;
    }
    let rsu = create_rsu(
        pool,
        &NewRsu {
            organization_id: org,
            name: "RSU-001 Main Gate (demo)".into(),
            rsu_no: Some(1),
            venue_id: Some(venue),
            max_offline_tickets: Some(500),
            token_hours: 72,
        },
    )
    .await?;
    let rsu_id = id_of(&rsu, "rsuId")?;
    for (s, e) in [(1001, 1100), (1101, 1200)] {
        create_allocation(
            pool,
            &NewAllocation {
                event_id: ev,
                rsu_id,
                start_number: Some(s),
                end_number: Some(e),
                count: None,
            },
        )
        .await?;
    }
    Ok(json!({
        "organizationId": org, "venueId": venue, "eventId": ev, "rsuId": rsu_id, "rsuNo": 1,
        "sellerId": seller.get("operatorId"), "supervisorId": supervisor.get("operatorId"),
        "enrollmentToken": rsu.get("enrollmentToken"), "tokenExpiresAt": rsu.get("tokenExpiresAt"),
        "alreadySeeded": false,
    }))
}
