//! Jurisdictions and regulations (issue 14), against a real PostgreSQL: each regulation type
//! refuses what breaks it and names it, the hierarchy's override rule, an expired and a
//! not-yet-effective regulation, the derived profile, and retention.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments)]

use serde_json::{json, Value};
use server_stub::admin::{self, NewPackage, NewPrize, SetPackagePrice};
use server_stub::jurisdictions::admin::{
    add_regulation, create_jurisdiction, jurisdiction_profile, set_address, set_venue_jurisdiction,
    NewJurisdiction, NewRegulation, SetAddress, SetVenueJurisdiction, ShowProfile,
};
use server_stub::purge::{purge, Purge};
use server_stub::testkit::Fixture;
use server_stub::AppError;
use uuid::Uuid;

type R = anyhow::Result<()>;

fn err(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn id(v: &Value, k: &str) -> Uuid {
    v[k].as_str().and_then(|s| Uuid::parse_str(s).ok()).unwrap()
}

async fn jurisdiction(
    f: &Fixture,
    code: &str,
    kind: &str,
    parent: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    let v = create_jurisdiction(
        &f.db.pool,
        &NewJurisdiction {
            name: code.into(),
            code: code.into(),
            kind: kind.into(),
            parent_jurisdiction_id: parent,
        },
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "jurisdictionId"))
}

async fn regulation(
    f: &Fixture,
    j: Uuid,
    name: &str,
    kind: &str,
    value: Value,
    from: &str,
    to: Option<&str>,
    overridable: bool,
) -> Result<Value, AppError> {
    add_regulation(
        &f.db.pool,
        &NewRegulation {
            jurisdiction_id: j,
            name: name.into(),
            kind: kind.into(),
            value,
            effective_date: from.parse().unwrap(),
            expiration_date: to.map(|t| t.parse().unwrap()),
            overridable,
        },
    )
    .await
}

/// The demo's venue, placed in a fresh US → CA → SF hierarchy; returns (venue, us, ca, sf).
async fn hierarchy(f: &Fixture) -> anyhow::Result<(Uuid, Uuid, Uuid, Uuid)> {
    let venue: Uuid = sqlx::query_scalar("SELECT venue_id FROM events WHERE id = $1")
        .bind(f.event_id)
        .fetch_one(&f.db.pool)
        .await?;
    let us = jurisdiction(f, "US", "country", None).await?;
    let ca = jurisdiction(f, "CA-US", "state", Some(us)).await?;
    let sf = jurisdiction(f, "SF-CA-US", "local", Some(ca)).await?;
    set_venue_jurisdiction(
        &f.db.pool,
        &SetVenueJurisdiction {
            venue_id: venue,
            jurisdiction_id: sf,
        },
    )
    .await
    .map_err(err)?;
    Ok((venue, us, ca, sf))
}

/// Creates an event at `venue` selling `days` days from 2030-01-01, with `extra` fields.
async fn event(
    f: &Fixture,
    venue: Uuid,
    ident: &str,
    days: i64,
    extra: Value,
) -> Result<Value, AppError> {
    let start: chrono::DateTime<chrono::Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
    let end = start + chrono::Duration::days(days);
    let mut body = json!({
        "organizationId": f.org_id, "venueId": venue, "eventIdentifier": ident, "name": ident,
        "salesStartTime": start, "salesEndTime": end, "drawTime": end,
        "maxTickets": 1000, "responsibleGamingText": "Play responsibly",
        "claimDeadline": "90 days", "rulesUrl": "https://example.org/rules",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    admin::create_event(&f.db.pool, &serde_json::from_value(body).unwrap()).await
}

const ALWAYS: &str = "2000-01-01T00:00:00Z";

#[tokio::test]
async fn a_non_overridable_parent_rule_wins_and_the_event_is_refused_naming_it() -> R {
    let f = Fixture::new().await?;
    let (venue, us, ca, _) = hierarchy(&f).await?;
    regulation(
        &f,
        us,
        "Federal sales window",
        "event_duration",
        json!({"maxDays": 3}),
        ALWAYS,
        None,
        false,
    )
    .await
    .map_err(err)?;
    regulation(
        &f,
        ca,
        "State sales window",
        "event_duration",
        json!({"maxDays": 10}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    let e = event(&f, venue, "LONG", 5, json!({}))
        .await
        .expect_err("5 days > 3");
    assert_eq!(e.code, "regulation_breached");
    assert!(
        e.message.contains("Federal sales window") && e.message.contains("US"),
        "{}",
        e.message
    );
    event(&f, venue, "SHORT", 2, json!({})).await.map_err(err)?;
    let p = jurisdiction_profile(
        &f.db.pool,
        &ShowProfile {
            jurisdiction_id: ca,
            at: None,
        },
    )
    .await
    .map_err(err)?;
    assert_eq!(
        p["applies"]["event_duration"]["name"], "Federal sales window",
        "{p}"
    );
    assert_eq!(p["ignored"][0]["name"], "State sales window", "{p}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn an_overridable_parent_rule_is_replaced_by_the_childs() -> R {
    let f = Fixture::new().await?;
    let (venue, us, _, sf) = hierarchy(&f).await?;
    regulation(
        &f,
        us,
        "Federal",
        "event_duration",
        json!({"maxDays": 3}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    regulation(
        &f,
        sf,
        "City",
        "event_duration",
        json!({"maxDays": 10}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    event(&f, venue, "FIVE", 5, json!({})).await.map_err(err)?;
    let e = event(&f, venue, "ELEVEN", 11, json!({}))
        .await
        .expect_err("11 > 10");
    assert!(e.message.contains("City"), "{}", e.message);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn expired_and_not_yet_effective_regulations_do_not_apply_at_the_events_sales_start() -> R {
    let f = Fixture::new().await?;
    let (venue, us, _, _) = hierarchy(&f).await?;
    // Expired before the event sells (2030), and effective only after.
    regulation(
        &f,
        us,
        "Old rule",
        "event_duration",
        json!({"maxDays": 1}),
        ALWAYS,
        Some("2029-12-31T00:00:00Z"),
        false,
    )
    .await
    .map_err(err)?;
    regulation(
        &f,
        us,
        "Future rule",
        "event_duration",
        json!({"maxDays": 1}),
        "2030-06-01T00:00:00Z",
        None,
        false,
    )
    .await
    .map_err(err)?;
    event(&f, venue, "OK", 5, json!({})).await.map_err(err)?;
    // A rule effective from 2029 is not in force today but is when the event sells: it applies.
    regulation(
        &f,
        us,
        "Rule of 2029",
        "event_duration",
        json!({"maxDays": 2}),
        "2029-01-01T00:00:00Z",
        None,
        false,
    )
    .await
    .map_err(err)?;
    let e = event(&f, venue, "NO", 5, json!({}))
        .await
        .expect_err("2029 rule");
    assert!(e.message.contains("Rule of 2029"), "{}", e.message);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn sales_method_refuses_offline_sales_and_pricing_windows() -> R {
    let f = Fixture::new().await?;
    let (venue, _, ca, _) = hierarchy(&f).await?;
    regulation(
        &f,
        ca,
        "Online only",
        "sales_method",
        json!({"offlineSalesAllowed": false, "priceLock": true}),
        ALWAYS,
        None,
        false,
    )
    .await
    .map_err(err)?;
    let e = event(&f, venue, "A", 1, json!({}))
        .await
        .expect_err("offline");
    assert!(
        e.message.contains("offline") && e.message.contains("Online only"),
        "{}",
        e.message
    );
    let e = event(
        &f,
        venue,
        "B",
        1,
        json!({"offlineSalesAllowed": false, "priceLock": false}),
    )
    .await
    .expect_err("price lock");
    assert!(e.message.contains("--price-lock true"), "{}", e.message);
    event(&f, venue, "C", 1, json!({"offlineSalesAllowed": false}))
        .await
        .map_err(err)?;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn ticket_price_and_prize_limits_refuse_packages_prices_prizes_and_seeds() -> R {
    let f = Fixture::new().await?;
    let (venue, _, _, sf) = hierarchy(&f).await?;
    regulation(
        &f,
        sf,
        "Ticket cap",
        "ticket_price_limit",
        json!({"amount": 1000, "currency": "USD"}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    regulation(
        &f,
        sf,
        "Prize cap",
        "prize_limit",
        json!({"amount": 100000, "currency": "USD"}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    let e = event(&f, venue, "SEED", 1, json!({"jackpotSeedAmount": 200000}))
        .await
        .expect_err("seed");
    assert!(e.message.contains("Prize cap"), "{}", e.message);
    let ev = id(
        &event(&f, venue, "GAME", 1, json!({})).await.map_err(err)?,
        "eventId",
    );
    let pkg = |price: i64| NewPackage {
        event_id: ev,
        name: format!("Five at {price}"),
        ticket_count: 5,
        price,
        display_order: 0,
        active_from: None,
        active_to: None,
    };
    let ok = admin::create_package(&f.db.pool, &pkg(5000))
        .await
        .map_err(err)?;
    let e = admin::create_package(&f.db.pool, &pkg(5001))
        .await
        .expect_err("1000.2 a ticket");
    assert!(e.message.contains("Ticket cap"), "{}", e.message);
    let e = admin::set_package_price(
        &f.db.pool,
        &SetPackagePrice {
            package_id: id(&ok, "packageId"),
            price: 6000,
        },
    )
    .await
    .expect_err("price raise");
    assert_eq!(e.code, "regulation_breached");
    let prize = |value: i64| NewPrize {
        event_id: ev,
        name: "Car".into(),
        kind: "fixed".into(),
        value: Some(value),
        percentage_bp: None,
        position: 1,
        winner_count: 1,
    };
    let e = admin::create_prize(&f.db.pool, &prize(150000))
        .await
        .expect_err("prize");
    assert!(e.message.contains("Prize cap"), "{}", e.message);
    admin::create_prize(&f.db.pool, &prize(100000))
        .await
        .map_err(err)?;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn reporting_requirements_shape_the_events_profile_and_addresses_are_kept() -> R {
    let f = Fixture::new().await?;
    let (venue, us, _, _) = hierarchy(&f).await?;
    regulation(
        &f,
        us,
        "Disclosure",
        "reporting_requirement",
        json!({"requiredReceiptFields": ["licenseeAddress"], "responsibleGamingText": "Call 1-800-GAMBLER"}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    let ev = id(
        &event(&f, venue, "R", 1, json!({})).await.map_err(err)?,
        "eventId",
    );
    let conf: Value = sqlx::query_scalar("SELECT configuration FROM events WHERE id = $1")
        .bind(ev)
        .fetch_one(&f.db.pool)
        .await?;
    let j = &conf["jurisdiction"];
    assert_eq!(
        j["requiredReceiptFields"],
        json!(["licenseeAddress"]),
        "{conf}"
    );
    assert_eq!(j["responsibleGamingText"], "Call 1-800-GAMBLER");
    assert_eq!(j["regulations"][0]["name"], "Disclosure");

    let a = set_address(
        &f.db.pool,
        &SetAddress {
            venue_id: None,
            organization_id: Some(f.org_id),
            street: "1 Main St".into(),
            city: "San Francisco".into(),
            state: Some("CA".into()),
            zip_code: Some("94105".into()),
            country: "us".into(),
            phone: None,
        },
    )
    .await
    .map_err(err)?;
    let (city, country): (String, String) = sqlx::query_as(
        "SELECT a.city, a.country::text FROM organizations o JOIN addresses a ON a.id = o.address_id WHERE o.id = $1",
    )
    .bind(f.org_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!((city.as_str(), country.as_str()), ("San Francisco", "US"));
    assert_eq!(a["organizationId"], json!(f.org_id));
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn malformed_regulations_are_refused_with_the_shape_to_use() -> R {
    let f = Fixture::new().await?;
    let (_, us, _, _) = hierarchy(&f).await?;
    for (kind, value) in [
        ("prize_limit", json!({"amount": 5})),
        ("prize_limit", json!({"amount": -5, "currency": "USD"})),
        ("event_duration", json!({"maxDays": 0})),
        (
            "reporting_requirement",
            json!({"requiredReceiptFields": ["shoeSize"]}),
        ),
        ("sales_method", json!({"offline": false})),
        ("speed_limit", json!({})),
    ] {
        let e = regulation(&f, us, "x", kind, value.clone(), ALWAYS, None, true)
            .await
            .expect_err("malformed");
        assert_eq!(e.code, "invalid_field", "{kind} {value}: {}", e.message);
    }
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_data_retention_regulation_keeps_ticket_data_longer_than_the_system_setting() -> R {
    let mut f = Fixture::new().await?;
    let (_, us, _, _) = hierarchy(&f).await?;
    f.sell_and_close(&[1, 1, 1], &[], "drawing_ready").await?;
    f.draw(None).await.map_err(err)?;
    // Drawn 3000 days ago: past the system's 2555 days, within the regulation's 5000.
    sqlx::query(
        "UPDATE events SET sales_start_time = sales_start_time - INTERVAL '3000 days',
                           sales_end_time = sales_end_time - INTERVAL '3000 days',
                           draw_time = draw_time - INTERVAL '3000 days' WHERE id = $1",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    regulation(
        &f,
        us,
        "Keep 5000 days",
        "data_retention",
        json!({"ticketDataDays": 5000}),
        ALWAYS,
        None,
        true,
    )
    .await
    .map_err(err)?;
    let orders = f.count("orders").await?;
    let v = purge(&f.db.pool, &Purge { dry_run: false })
        .await
        .map_err(err)?;
    assert_eq!(v["keptByRegulation"], json!([f.event_id]), "{v}");
    assert_eq!(f.count("orders").await?, orders);
    f.drop_db().await;
    Ok(())
}
