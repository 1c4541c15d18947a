//! The rest of the seeds' model (issue 14), against a real PostgreSQL: package and prize
//! templates, the organization's money settings in the reconciliation report, and data
//! retention (`admin purge`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

use serde_json::Value;
use server_stub::admin::money::{set_money_settings, SetMoneySettings};
use server_stub::admin::templates::{
    apply_templates, create_package_template, create_prize_template, list_templates,
    ApplyTemplates, ListTemplates, NewPackageTemplate, NewPrizeTemplate,
};
use server_stub::purge::{purge, Purge};
use server_stub::report::event_report;
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

async fn package_template(f: &Fixture, name: &str, n: u32, price: i64) -> anyhow::Result<Uuid> {
    let v = create_package_template(
        &f.db.pool,
        &NewPackageTemplate {
            organization_id: f.org_id,
            name: name.into(),
            description: None,
            ticket_count: n,
            price,
            currency: None,
            display_order: n as i32,
        },
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "packageTemplateId"))
}

async fn prize_template(
    f: &Fixture,
    name: &str,
    value: Option<i64>,
    bp: Option<u32>,
) -> anyhow::Result<Uuid> {
    let v = create_prize_template(
        &f.db.pool,
        &NewPrizeTemplate {
            organization_id: f.org_id,
            name: name.into(),
            description: None,
            kind: if value.is_some() {
                "fixed"
            } else {
                "percentage"
            }
            .into(),
            value,
            percentage_bp: bp,
        },
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "prizeTemplateId"))
}

async fn new_event(f: &Fixture, ident: &str) -> anyhow::Result<Uuid> {
    let v = server_stub::admin::create_event(
        &f.db.pool,
        &serde_json::from_value(serde_json::json!({
            "organizationId": f.org_id,
            "eventIdentifier": ident,
            "name": "Next home game",
            "salesStartTime": "2030-01-01T10:00:00Z",
            "salesEndTime": "2030-01-01T20:00:00Z",
            "drawTime": "2030-01-01T21:00:00Z",
            "maxTickets": 1000,
            "responsibleGamingText": "Play responsibly",
            "claimDeadline": "90 days",
            "rulesUrl": "https://example.org/rules",
        }))?,
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "eventId"))
}

#[tokio::test]
async fn an_events_packages_and_prizes_come_from_templates_in_one_command() -> R {
    let f = Fixture::new().await?;
    let single = package_template(&f, "Single", 1, 500).await?;
    let value = package_template(&f, "Value pack", 5, 2000).await?;
    let half = prize_template(&f, "50/50", None, Some(5000)).await?;
    let card = prize_template(&f, "Gift card", Some(2500), None).await?;
    let listed = list_templates(
        &f.db.pool,
        &ListTemplates {
            organization_id: f.org_id,
        },
    )
    .await
    .map_err(err)?;
    assert_eq!(listed["packageTemplates"].as_array().unwrap().len(), 2);
    assert_eq!(listed["prizeTemplates"].as_array().unwrap().len(), 2);

    let ev = new_event(&f, "GAME-2").await?;
    let version = |f: &Fixture| {
        let pool = f.db.pool.clone();
        let org = f.org_id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT config_version::BIGINT FROM organizations WHERE id = $1",
            )
            .bind(org)
            .fetch_one(&pool)
            .await
        }
    };
    let before = version(&f).await?;
    let v = apply_templates(
        &f.db.pool,
        &ApplyTemplates {
            event_id: ev,
            package_templates: vec![value, single],
            prize_templates: vec![half, card],
        },
    )
    .await
    .map_err(err)?;
    assert_eq!(v["packages"].as_array().unwrap().len(), 2, "{v}");
    let pkgs: Vec<(String, i32, i64, String)> = sqlx::query_as(
        "SELECT name, ticket_count, price, currency::text FROM ticket_packages
          WHERE event_id = $1 ORDER BY ticket_count",
    )
    .bind(ev)
    .fetch_all(&f.db.pool)
    .await?;
    assert_eq!(
        pkgs,
        vec![
            ("Single".into(), 1, 500, "USD".into()),
            ("Value pack".into(), 5, 2000, "USD".into())
        ]
    );
    let prizes: Vec<(String, i16, String, Option<i64>, Option<i32>)> = sqlx::query_as(
        "SELECT name, position, type, value, percentage_bp FROM prizes WHERE event_id = $1 ORDER BY position",
    )
    .bind(ev)
    .fetch_all(&f.db.pool)
    .await?;
    assert_eq!(
        prizes,
        vec![
            ("50/50".into(), 1, "percentage".into(), None, Some(5000)),
            ("Gift card".into(), 2, "fixed".into(), Some(2500), None)
        ]
    );
    // The packages went through add-package: the organization's config version moved, so
    // devices pull them.
    assert!(version(&f).await? > before);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn an_unknown_or_foreign_template_creates_nothing() -> R {
    let f = Fixture::new().await?;
    let single = package_template(&f, "Single", 1, 500).await?;
    let ev = new_event(&f, "GAME-3").await?;
    let e = apply_templates(
        &f.db.pool,
        &ApplyTemplates {
            event_id: ev,
            package_templates: vec![single, Uuid::now_v7()],
            prize_templates: vec![],
        },
    )
    .await
    .expect_err("unknown template");
    assert!(e.message.contains("list-templates"), "{}", e.message);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_packages WHERE event_id = $1")
        .bind(ev)
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(n, 0, "nothing is created when one template is unknown");

    // A template priced in another currency than the event's is refused before anything.
    let eur = create_package_template(
        &f.db.pool,
        &NewPackageTemplate {
            organization_id: f.org_id,
            name: "Euro pack".into(),
            description: None,
            ticket_count: 3,
            price: 1000,
            currency: Some("EUR".into()),
            display_order: 0,
        },
    )
    .await
    .map_err(err)?;
    let e = apply_templates(
        &f.db.pool,
        &ApplyTemplates {
            event_id: ev,
            package_templates: vec![single, id(&eur, "packageTemplateId")],
            prize_templates: vec![],
        },
    )
    .await
    .expect_err("currency");
    assert!(e.message.contains("EUR"), "{}", e.message);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_packages WHERE event_id = $1")
        .bind(ev)
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(n, 0);
    f.drop_db().await;
    Ok(())
}

async fn money(f: &Fixture, a: SetMoneySettings) -> R {
    set_money_settings(&f.db.pool, &a).await.map_err(err)?;
    Ok(())
}

fn settings(f: &Fixture) -> SetMoneySettings {
    SetMoneySettings {
        organization_id: f.org_id,
        tax_rate: None,
        tax_included: None,
        operating_fee_percent: None,
        operating_fee_fixed: None,
    }
}

#[tokio::test]
async fn the_report_shows_tax_prizes_fee_and_the_net_to_the_beneficiary() -> R {
    let mut f = Fixture::new().await?;
    // Nothing set: no tax, no fee.
    f.sell_and_close(&[5, 1, 1], &[], "drawing_ready").await?;
    let r = event_report(&f.db.pool, f.event_id).await.map_err(err)?;
    let net = r.totals.amounts.all.net;
    assert!(net > 0);
    assert_eq!(r.proceeds.net_sales, net);
    assert_eq!((r.proceeds.tax, r.proceeds.operating_fee), (0, 0));
    assert!(!r.proceeds.prizes_drawn);
    assert_eq!(r.proceeds.net_to_beneficiary, net - r.proceeds.prizes);

    money(
        &f,
        SetMoneySettings {
            tax_rate: Some("8.25".into()),
            tax_included: Some(true),
            operating_fee_percent: Some("4.5".into()),
            ..settings(&f)
        },
    )
    .await?;
    let r = event_report(&f.db.pool, f.event_id).await.map_err(err)?;
    let p = &r.proceeds;
    assert_eq!(p.tax_rate_bp, 825);
    assert_eq!(
        p.tax,
        (net as i128 * 825 * 2 + 10_825) as i64 / (2 * 10_825) as i64
    );
    assert_eq!(p.operating_fee, (net * 450 + 5_000) / 10_000);
    assert_eq!(
        p.net_to_beneficiary,
        net - p.tax - p.prizes - p.operating_fee
    );
    let text = server_stub::report::to_text(&r);
    assert!(text.contains("to the beneficiary"), "{text}");

    // After the draw the prizes are what the draw paid.
    f.draw(None).await.map_err(err)?;
    money(
        &f,
        SetMoneySettings {
            operating_fee_fixed: Some(5_000),
            ..settings(&f)
        },
    )
    .await?;
    let r = event_report(&f.db.pool, f.event_id).await.map_err(err)?;
    let paid: i64 = sqlx::query_scalar(
        "SELECT SUM(r.prize_value_at_draw)::BIGINT FROM draw_results r
           JOIN draw_executions x ON x.id = r.draw_execution_id WHERE x.event_id = $1",
    )
    .bind(f.event_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert!(r.proceeds.prizes_drawn);
    assert_eq!(r.proceeds.prizes, paid);
    assert_eq!(r.proceeds.operating_fee, 5_000);
    assert!(r.proceeds.tax_included, "the tax settings were kept");

    let e = set_money_settings(
        &f.db.pool,
        &SetMoneySettings {
            tax_rate: Some("8.255".into()),
            ..settings(&f)
        },
    )
    .await
    .expect_err("three decimals");
    assert!(e.message.contains("8.255"), "{}", e.message);
    f.drop_db().await;
    Ok(())
}

/// Moves every time of the fixture's event `days` into the past.
async fn age_event(f: &Fixture, days: i32) -> R {
    sqlx::query(
        "UPDATE events SET sales_start_time = sales_start_time - make_interval(days => $2),
                           sales_end_time = sales_end_time - make_interval(days => $2),
                           draw_time = draw_time - make_interval(days => $2)
          WHERE id = $1",
    )
    .bind(f.event_id)
    .bind(days)
    .execute(&f.db.pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn purge_removes_only_what_retention_allows_and_dry_run_counts_exactly() -> R {
    let mut f = Fixture::new().await?;
    let sales = f
        .sell_and_close(&[1, 1, 1, 5], &[], "drawing_ready")
        .await?;
    f.draw(None).await.map_err(err)?;
    let winner_orders: i64 = f
        .count(
            "orders o WHERE EXISTS (SELECT 1 FROM tickets t JOIN draw_results d
                                     ON d.winning_ticket_id = t.id WHERE t.order_id = o.id)",
        )
        .await?;
    assert!(winner_orders >= 1);
    sqlx::query(
        "UPDATE orders SET customer_info = '{\"email\": \"a@example.org\"}' WHERE event_id = $1",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    // An old critical event of the completed event and an old audit entry: both past retention.
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, timestamp)
         VALUES ('OLD', $1, 'INFO', NOW() - INTERVAL '1200 days'),
                ('RECENT', $1, 'INFO', NOW())",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, changed_at)
         VALUES ('events', 'UPDATE', $1, NOW() - INTERVAL '2600 days')",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    let audit_before = f.count("audit_log").await?;

    // The event is recent: its tickets are kept.
    let v = purge(&f.db.pool, &Purge { dry_run: false })
        .await
        .map_err(err)?;
    assert_eq!(v["removed"]["ordersDeleted"], 0, "{v}");
    assert_eq!(v["removed"]["criticalEventsDeleted"], 1, "{v}");
    assert_eq!(v["removed"]["auditEntriesDeleted"], 1, "{v}");
    assert_eq!(f.count("audit_log").await?, audit_before - 1);
    assert_eq!(
        f.count("critical_events WHERE event_type = 'RECENT'")
            .await?,
        1
    );

    age_event(&f, 2600).await?;
    let orders = f.count("orders").await?;
    let dry = purge(&f.db.pool, &Purge { dry_run: true })
        .await
        .map_err(err)?;
    assert_eq!(
        f.count("orders").await?,
        orders,
        "a dry run removes nothing"
    );
    let real = purge(&f.db.pool, &Purge { dry_run: false })
        .await
        .map_err(err)?;
    assert_eq!(
        dry["removed"], real["removed"],
        "the dry run counted exactly"
    );
    let removed = real["removed"]["ordersDeleted"].as_i64().unwrap();
    assert_eq!(removed, sales.len() as i64 - winner_orders);
    assert_eq!(f.count("orders").await?, orders - removed);
    assert_eq!(
        f.count("orders WHERE customer_info IS NOT NULL").await?,
        0,
        "personal data is cleared from the kept orders too"
    );
    assert_eq!(
        f.count("draw_results").await?,
        f.count("draw_results d JOIN tickets t ON t.id = d.winning_ticket_id")
            .await?,
        "the winners and the draw stay"
    );
    assert_eq!(
        f.count("critical_events WHERE event_type = 'DATA_PURGED'")
            .await?,
        2
    );
    // Purged once: a second run finds nothing of the event.
    let again = purge(&f.db.pool, &Purge { dry_run: false })
        .await
        .map_err(err)?;
    assert_eq!(again["removed"]["events"].as_array().unwrap().len(), 0);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn purge_never_touches_an_event_that_is_not_completed() -> R {
    let mut f = Fixture::new().await?;
    f.sell_and_close(&[1, 1], &[], "drawing_ready").await?;
    age_event(&f, 4000).await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, timestamp)
         VALUES ('OLD', $1, 'INFO', NOW() - INTERVAL '4000 days')",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    let orders = f.count("orders").await?;
    let v = purge(&f.db.pool, &Purge { dry_run: false })
        .await
        .map_err(err)?;
    assert_eq!(v["removed"]["ordersDeleted"], 0, "{v}");
    assert_eq!(v["removed"]["criticalEventsDeleted"], 0, "{v}");
    assert_eq!(f.count("orders").await?, orders);
    f.drop_db().await;
    Ok(())
}

async fn post(
    f: &Fixture,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<(axum::http::StatusCode, Value)> {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(serde_json::to_vec(&body)?))?;
    f.send(req).await
}

#[tokio::test]
async fn templates_jurisdictions_and_purge_over_http_check_the_callers_permission() -> R {
    use server_stub::accounts::{self, tokens};
    let f = Fixture::new().await?;
    let admin = server_stub::testkit::TEST_ADMIN_TOKEN;
    let (st, v) = post(
        &f,
        admin,
        "/v1/admin/package-templates",
        serde_json::json!({"organizationId": f.org_id, "name": "Single", "ticketCount": 1, "price": 500}),
    )
    .await?;
    assert_eq!(st, 200, "{v}");
    assert_eq!(f.count("ticket_package_templates").await?, 1);

    // A viewer of the organization may list templates but not make them, nor purge, nor create
    // jurisdictions; a raffle manager makes templates but does not purge.
    let viewer = accounts::add_user(&f.db.pool, "viewer@example.org", "Vic Viewer")
        .await
        .map_err(err)?;
    accounts::grant(&f.db.pool, viewer, f.org_id, "viewer")
        .await
        .map_err(err)?;
    let vt = tokens::create(&f.db.pool, "viewer@example.org", "ci")
        .await
        .map_err(err)?
        .token;
    let manager = accounts::add_user(&f.db.pool, "rm@example.org", "Rae Manager")
        .await
        .map_err(err)?;
    accounts::grant(&f.db.pool, manager, f.org_id, "raffle_manager")
        .await
        .map_err(err)?;
    let mt = tokens::create(&f.db.pool, "rm@example.org", "ci")
        .await
        .map_err(err)?
        .token;
    let (st, v) = post(
        &f,
        &vt,
        "/v1/admin/templates/list",
        serde_json::json!({"organizationId": f.org_id}),
    )
    .await?;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["packageTemplates"].as_array().unwrap().len(), 1);
    let t = serde_json::json!({"organizationId": f.org_id, "name": "Pair", "ticketCount": 2, "price": 900});
    let (st, v) = post(&f, &vt, "/v1/admin/package-templates", t.clone()).await?;
    assert_eq!(
        (st.as_u16(), v["error"].as_str()),
        (403, Some("permission_denied")),
        "{v}"
    );
    let (st, v) = post(&f, &mt, "/v1/admin/package-templates", t).await?;
    assert_eq!(st, 200, "{v}");
    for token in [&vt, &mt] {
        let (st, v) = post(
            &f,
            token,
            "/v1/admin/purge",
            serde_json::json!({"dryRun": true}),
        )
        .await?;
        assert_eq!(st, 403, "{v}");
        let (st, v) = post(
            &f,
            token,
            "/v1/admin/jurisdictions",
            serde_json::json!({"name": "US", "code": "US", "type": "country"}),
        )
        .await?;
        assert_eq!(st, 403, "{v}");
    }
    let (st, v) = post(
        &f,
        admin,
        "/v1/admin/purge",
        serde_json::json!({"dryRun": true}),
    )
    .await?;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["dryRun"], true);
    // The audit log names the manager who made the template.
    let by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'ticket_package_templates' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, Some(manager));
    f.drop_db().await;
    Ok(())
}
