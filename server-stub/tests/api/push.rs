//! The journal push: applying sales and voids, duplicates and concurrency, conflicts and gaps,
//! tampered entries, device critical events, a server killed mid-batch, NUL characters.

use axum::http::StatusCode;
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::CriticalEventPayload;
use rsu_core::wire::{self};
use serde_json::{json, Value};
use server_stub::testkit::{http_request, Fixture, TestDevice, TestServer};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn applied_sales_become_orders_and_tickets_and_voids_void_them() -> R {
    let mut f = Fixture::new().await?;
    let s1 = f.sale(5);
    let s2 = f.sale(25);
    let sale1: rsu_core::payload::SalePayload = serde_json::from_value(sale_value(&s1))?;
    let void = TestDevice::void_payload(&sale1, f.supervisor_id);
    let v = f
        .device
        .entry(EntryKind::Void, serde_json::to_value(&void)?);
    let (st, body) = f.push(&[s1.clone(), s2, v]).await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        vec![
            ("applied".into(), None),
            ("applied".into(), None),
            ("applied".into(), None)
        ]
    );
    assert_eq!(body["ackedThroughSeq"], 3);
    assert_eq!(body["chainVerified"], true);
    assert_eq!(
        f.count("orders WHERE source = 'rsu' AND is_offline_sale")
            .await?,
        2
    );
    assert_eq!(f.count("tickets WHERE state = 'sold'").await?, 25);
    assert_eq!(f.count("tickets WHERE state = 'voided'").await?, 5);
    let (reason, by): (Option<String>, Option<Uuid>) =
        sqlx::query_as("SELECT voided_reason, voided_by FROM orders WHERE id = $1")
            .bind(sale1.local_id)
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(reason.as_deref(), Some("customer changed their mind"));
    assert_eq!(by, Some(f.supervisor_id));
    let (sold, voided, next): (i32, i32, i32) = sqlx::query_as(
        "SELECT tickets_sold, tickets_voided, next_draw_number FROM rsu_allocations WHERE start_number = 1001",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!((sold, voided, next), (30, 5, 1031));
    // The chain head answered is the hash of the last entry.
    assert_eq!(body["chainHead"], json!(f.device.prev_hash.to_hex()));
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_batch_twice_is_answered_duplicate_with_the_first_answer() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..10).map(|_| f.sale(5)).collect();
    let (st, first) = f.push(&batch).await?;
    assert_eq!(st, StatusCode::OK, "{first}");
    let (st, again) = f.push(&batch).await?;
    assert_eq!(st, StatusCode::OK, "{again}");
    for r in again["results"].as_array().into_iter().flatten() {
        assert_eq!(r["status"], "duplicate");
        assert_eq!(r["firstStatus"], "applied");
    }
    assert_eq!(again["ackedThroughSeq"], first["ackedThroughSeq"]);
    assert_eq!(again["chainHead"], first["chainHead"]);
    assert_eq!(f.count("orders").await?, 10);
    assert_eq!(f.count("tickets").await?, 50);
    assert_eq!(f.count("device_journal").await?, 10);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_batch_on_eight_concurrent_connections_is_applied_exactly_once() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..20).map(|_| f.sale(5)).collect();
    let body = f.device.push_body(&batch)?;
    let server = TestServer::spawn(f.state.clone()).await?;
    let mut tasks = vec![];
    for _ in 0..8 {
        let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
        let body = body.clone();
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await
        }));
    }
    let mut applied = 0;
    let mut duplicate = 0;
    for t in tasks {
        let (status, v) = t.await??;
        assert_eq!(status, 200, "{v}");
        for (s, _) in results(&v) {
            match s.as_str() {
                "applied" => applied += 1,
                "duplicate" => duplicate += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        applied, 20,
        "each entry applied exactly once across the 8 pushes"
    );
    assert_eq!(duplicate, 7 * 20);
    assert_eq!(f.count("orders").await?, 20);
    assert_eq!(f.count("tickets").await?, 100);
    server.stop().await;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_seq_with_another_payload_is_a_conflict_and_nothing_is_overwritten() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let b = f.sale(1);
    let (st, _) = f.push(&[a.clone(), b.clone()]).await?;
    assert_eq!(st, StatusCode::OK);
    // A restored backup: seq 2 again, with a different sale.
    let mut other = b.clone();
    other.body.payload["totalAmount"] = json!(499);
    other = other.body.clone().chain(a.hash)?;
    let (st, v) = f.push(&[other.clone()]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![("conflict".into(), Some("seq_conflict".into()))]
    );
    let stored_total: Value =
        sqlx::query_scalar("SELECT payload->'totalAmount' FROM device_journal WHERE seq = 2")
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(stored_total, json!(500), "the stored entry is untouched");
    assert_eq!(f.count("journal_conflicts").await?, 1);
    assert_eq!(f.count("orders").await?, 2);
    // The same localId under a new seq is a conflict too (id reuse), also never applied.
    let mut dup = f.sale(1);
    dup.body.payload["localId"] = a.body.payload["localId"].clone();
    let mut v2 = vec![dup];
    rechain(&mut v2, b.hash);
    let (_, v) = f.push(&v2).await?;
    assert_eq!(
        results(&v),
        vec![("conflict".into(), Some("id_conflict".into()))]
    );
    assert_eq!(f.count("orders").await?, 2);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_gap_is_answered_409_with_the_expected_seq() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let _lost = f.sale(1);
    let c = f.sale(1);
    let (st, _) = f.push(&[a]).await?;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = f.push(&[c]).await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "gap");
    assert_eq!(v["expectedSeq"], 2);
    assert!(v["message"].as_str().unwrap_or("").contains("seq 2"));
    assert_eq!(f.count("device_journal").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_tampered_entry_is_rejected_and_flagged_and_later_entries_still_apply() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let mut b = f.sale(1);
    let c = f.sale(1);
    b.body.payload["totalAmount"] = json!(1); // altered after hashing
    let (st, v) = f.push(&[a, b, c]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            ("applied".into(), None),
            ("rejected".into(), Some("broken_chain".into())),
            ("applied".into(), None)
        ]
    );
    assert_eq!(v["chainVerified"], false);
    let (verified, at): (bool, Option<i64>) =
        sqlx::query_as("SELECT chain_verified, chain_broken_at FROM rsu_epochs")
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!((verified, at), (false, Some(2)));
    // Stored with its full payload.
    let stored: Value = sqlx::query_scalar(
        "SELECT payload FROM device_journal WHERE seq = 2 AND status = 'rejected'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(stored["totalAmount"], 1);
    assert_eq!(f.count("orders").await?, 2);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn device_critical_events_land_with_rsu_and_operator() -> R {
    let mut f = Fixture::new().await?;
    let c = CriticalEventPayload {
        event_type: "PIN_FAILED".into(),
        severity: "WARNING".into(),
        description: "three wrong PINs".into(),
        operator_id: Some(f.seller_id),
        event_id: Some(f.event_id),
        metadata: json!({"attempts": 3}),
    };
    let e = f
        .device
        .entry(EntryKind::CriticalEvent, serde_json::to_value(&c)?);
    let (st, v) = f.push(&[e]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (rsu, user, sev): (Option<Uuid>, Option<Uuid>, String) = sqlx::query_as(
        "SELECT rsu_id, user_id, severity FROM critical_events WHERE event_type = 'PIN_FAILED'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (rsu, user, sev.as_str()),
        (Some(f.device.rsu_id), Some(f.seller_id), "WARNING")
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_batch_leaves_no_partial_order() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..40).map(|_| f.sale(5)).collect();
    let body = f.device.push_body(&batch)?;
    let bin = env!("CARGO_BIN_EXE_server-stub");
    let spawn = |crash: Option<&str>, port: u16| -> anyhow::Result<std::process::Child> {
        let mut c = std::process::Command::new(bin);
        c.arg("serve")
            .env("DATABASE_URL", &f.db.url)
            .env("SERVER_STUB_BIND", format!("127.0.0.1:{port}"))
            .env_remove("SERVER_STUB_ADMIN_TOKEN")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(p) = crash {
            c.env("SERVER_STUB_CRASH_POINT", p);
        }
        Ok(c.spawn()?)
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    for point in ["after_tickets", "before_commit"] {
        let mut child = spawn(Some(point), port)?;
        wait_up(addr).await?;
        let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
        let r = http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await;
        assert!(r.is_err(), "the server died before answering: {r:?}");
        let status = child.wait()?;
        assert!(!status.success(), "aborted at {point}");
        assert_eq!(
            f.count("orders").await?,
            0,
            "no partial order after a crash at {point}"
        );
        assert_eq!(f.count("tickets").await?, 0);
        assert_eq!(f.count("device_journal").await?, 0);
    }
    // Restarted, the same bytes are applied in full.
    let mut child = spawn(None, port)?;
    wait_up(addr).await?;
    let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
    let (st, v) = http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await?;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(st, 200, "{v}");
    assert_eq!(f.count("orders").await?, 40);
    assert_eq!(f.count("tickets").await?, 200);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_nul_character_in_a_payload_is_a_rejection_not_a_server_error() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(1);
    let nums = f.device.take_numbers(1);
    let mut s = f.device.sale_payload(f.event_id, &pkg, nums, f.seller_id);
    s.customer_info = Some(rsu_core::payload::CustomerInfo {
        name: Some("Ann\u{0}".into()),
        email: None,
        phone: None,
    });
    let bad = f.device.entry(EntryKind::Sale, serde_json::to_value(&s)?);
    let good = f.sale(1);
    let (st, v) = f.push(&[bad, good]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            ("rejected".into(), Some("bad_payload".into())),
            ("applied".into(), None)
        ]
    );
    let name: Value = sqlx::query_scalar(
        "SELECT payload->'customerInfo'->'name' FROM device_journal WHERE seq = 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(name, json!("Ann\u{FFFD}"), "stored, with the NUL replaced");
    f.drop_db().await;
    Ok(())
}
