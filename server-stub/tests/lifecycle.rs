//! A device's life on the server (issue 15): key succession and revocation, what a new epoch is
//! told (ranges with their next number and state, the highest sale seq, a fresh validation
//! key), continuity proofs, and configuration that never carries a range of an event it does
//! not carry. Real PostgreSQL, a fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use rsu_core::wire::{self, DeviceKey, EnrollRequest};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::lifecycle::{self, ListKeys, ReleaseWithheld, SetRsuState};
use server_stub::testkit::{Fixture, TestDevice};
use uuid::Uuid;

type R = anyhow::Result<()>;

/// Registers `next` as the successor of the device's current key; returns its key id.
async fn rotate(
    f: &Fixture,
    dev: &TestDevice,
    next: &DeviceKey,
) -> anyhow::Result<(StatusCode, Value)> {
    let body = serde_json::to_vec(&json!({"publicKey": next.public_key_hex()}))?;
    f.send(dev.request("POST", wire::PATH_KEYS, body)?).await
}

async fn pull(f: &Fixture, dev: &TestDevice) -> anyhow::Result<(StatusCode, Value)> {
    f.send(dev.request("GET", wire::PATH_CONFIG, vec![])?).await
}

fn with_key(dev: &TestDevice, key: DeviceKey, key_id: Uuid) -> TestDevice {
    TestDevice {
        key,
        key_id,
        rsu_id: dev.rsu_id,
        epoch: dev.epoch,
        rsu_no: dev.rsu_no,
        prefix: dev.prefix.clone(),
        validation_key: dev.validation_key.clone(),
        next_seq: dev.next_seq,
        prev_hash: dev.prev_hash,
        next_sale_seq: dev.next_sale_seq,
        next_number: dev.next_number,
        clock_offset: 0,
        allocations: dev.allocations.clone(),
    }
}

fn key_id_of(v: &Value) -> Uuid {
    serde_json::from_value(v["keyId"].clone()).expect("keyId")
}

async fn token(f: &Fixture, rsu_id: Uuid) -> String {
    let v = admin::create_enrollment_token(
        &f.db.pool,
        &admin::NewEnrollmentToken {
            rsu_id,
            token_hours: 1,
        },
    )
    .await
    .expect("token");
    v["enrollmentToken"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_key_registered_by_rotation_is_revoked_with_the_key_that_registered_it() -> R {
    // Defect 15.4: a thief rotates K1 -> K2; the admin revokes K1; K2 must stop working too.
    let f = Fixture::new().await?;
    let k2 = DeviceKey::generate()?;
    let (st, v) = rotate(&f, &f.device, &k2).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let thief = with_key(&f.device, k2, key_id_of(&v));
    assert_eq!(pull(&f, &thief).await?.0, StatusCode::OK);
    admin::revoke_key(
        &f.db.pool,
        &admin::RevokeKey {
            key_id: Some(f.device.key_id),
            rsu_id: None,
            all: false,
            reason: "device stolen".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (st, v) = pull(&f, &thief).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key_revoked")),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn revoke_all_and_marking_an_rsu_lost_revoke_every_key_and_list_keys_shows_them() -> R {
    let f = Fixture::new().await?;
    let k2 = DeviceKey::generate()?;
    let (_, v) = rotate(&f, &f.device, &k2).await?;
    let second = with_key(&f.device, k2, key_id_of(&v));
    let listed = lifecycle::list_keys(
        &f.db.pool,
        &ListKeys {
            rsu_id: f.device.rsu_id,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let statuses: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["pending", "active"], "{listed}");
    assert_eq!(listed["keys"][0]["registeredBy"], json!(f.device.key_id));

    let v = admin::revoke_key(
        &f.db.pool,
        &admin::RevokeKey {
            key_id: None,
            rsu_id: Some(f.device.rsu_id),
            all: true,
            reason: "audit".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(v["revokedKeys"].as_array().map(Vec::len), Some(2), "{v}");
    for dev in [&f.device, &second] {
        let (st, v) = pull(&f, dev).await?;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    }

    // Lost: a new enrollment, then `set-rsu-state lost` revokes that key too.
    let t = token(&f, f.device.rsu_id).await;
    let fresh = TestDevice::enroll(&f.db.pool, &t, "MAC:00:00:00:00:00:02").await?;
    assert_eq!(pull(&f, &fresh).await?.0, StatusCode::OK);
    let v = lifecycle::set_rsu_state(
        &f.db.pool,
        &SetRsuState {
            rsu_id: f.device.rsu_id,
            state: "lost".into(),
            reason: "left on the bus".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(v["revokedKeys"].as_array().map(Vec::len), Some(1), "{v}");
    // Still refused when the RSU is made active again: its keys stay revoked.
    lifecycle::set_rsu_state(
        &f.db.pool,
        &SetRsuState {
            rsu_id: f.device.rsu_id,
            state: "active".into(),
            reason: "found".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (st, v) = pull(&f, &fresh).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key_revoked")),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn rotation_is_idempotent_keeps_one_pending_successor_and_needs_a_live_key() -> R {
    let f = Fixture::new().await?;
    let k2 = DeviceKey::generate()?;
    let (st, v) = rotate(&f, &f.device, &k2).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let id2 = key_id_of(&v);
    // The same public key again (the answer was lost): the same key id.
    let (st, v) = rotate(&f, &f.device, &k2).await?;
    assert_eq!((st, key_id_of(&v)), (StatusCode::OK, id2), "{v}");
    // Another key before K2 was used: K2 is superseded, one pending successor remains.
    let k3 = DeviceKey::generate()?;
    let (st, v) = rotate(&f, &f.device, &k3).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let id3 = key_id_of(&v);
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rsu_keys WHERE registered_by = $1 AND revoked_at IS NULL",
    )
    .bind(f.device.key_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(pending, 1);
    let k2_dev = with_key(&f.device, k2, id2);
    assert_eq!(pull(&f, &k2_dev).await?.0, StatusCode::UNAUTHORIZED);
    // K3 used once: K1 can no longer register anything.
    let k3_dev = with_key(&f.device, k3, id3);
    assert_eq!(pull(&f, &k3_dev).await?.0, StatusCode::OK);
    let (st, v) = rotate(&f, &f.device, &DeviceKey::generate()?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("key_succeeded")),
        "{v}"
    );
    // An expired key cannot rotate.
    sqlx::query("UPDATE rsu_keys SET valid_from = NOW() - interval '100 days', expires_at = NOW() - interval '1 day' WHERE id = $1")
        .bind(id3)
        .execute(&f.db.pool)
        .await?;
    let (st, v) = rotate(&f, &k3_dev, &DeviceKey::generate()?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key_expired")),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_new_epoch_gets_a_new_validation_key_the_last_sale_seq_and_withheld_ranges() -> R {
    // Defect 15.1 on the server: device A sells 1001–1015 and syncs; a fresh database enrolls as
    // the same RSU: it must not get A's key, nor sale seqs 1–3, nor A's ranges to sell from.
    let mut f = Fixture::new().await?;
    assert_eq!(pull(&f, &f.device).await?.0, StatusCode::OK);
    let sales: Vec<_> = (0..3).map(|_| f.sale(5)).collect();
    let (st, v) = f.push(&sales).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let t = token(&f, f.device.rsu_id).await;
    let b = TestDevice::enroll(&f.db.pool, &t, "MAC:00:00:00:00:00:0B").await?;
    assert_eq!(b.epoch, 2);
    let tag = |k: &rsu_core::validation::ValidationKey| {
        rsu_core::validation::ValidationNumber::issue(k, "RSU", 1, 2026, 4).map(|v| v.to_string())
    };
    assert_ne!(
        tag(&b.validation_key)?,
        tag(&f.device.validation_key)?,
        "a new epoch needs a new validation key"
    );
    let (st, v) = pull(&f, &b).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let cfg: wire::ConfigResponse = serde_json::from_value(v)?;
    assert_eq!(cfg.config.rsu.last_sale_seq, 3);
    let first = cfg
        .config
        .allocations
        .iter()
        .find(|a| a.start_number == 1001)
        .expect("1001–1100");
    assert_eq!(
        (first.state.as_str(), first.next_number),
        ("withheld", Some(1016))
    );
    assert!(cfg.key_expires_at.is_some());

    // An administrator confirms A's journal reached the server: the ranges come back, from the
    // next number nobody sold.
    lifecycle::release_withheld(
        &f.db.pool,
        &ReleaseWithheld {
            rsu_id: f.device.rsu_id,
            note: "device A synced before it was lost".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, v) = pull(&f, &b).await?;
    let cfg: wire::ConfigResponse = serde_json::from_value(v)?;
    let first = cfg
        .config
        .allocations
        .iter()
        .find(|a| a.start_number == 1001)
        .unwrap();
    assert_eq!(
        (first.state.as_str(), first.next_number),
        ("active", Some(1016))
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_continuity_proof_keeps_the_ranges_and_a_wrong_one_leaves_the_token_usable() -> R {
    let f = Fixture::new().await?;
    assert_eq!(pull(&f, &f.device).await?.0, StatusCode::OK);
    let t = token(&f, f.device.rsu_id).await;
    let new_key = DeviceKey::generate()?;
    let req = |signer: &DeviceKey, rsu_id: Uuid| EnrollRequest {
        token: t.clone(),
        public_key: new_key.public_key_hex(),
        device_identifier: "MAC:00:00:00:00:00:01".into(),
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        continuity: Some(wire::Continuity {
            rsu_id,
            key_id: f.device.key_id,
            signature: signer.sign_hex(&wire::continuity_message(
                rsu_id,
                f.device.key_id,
                &t,
                &new_key.public_key_hex(),
            )),
        }),
    };
    // A proof signed by another key: refused, and the token is still usable.
    let e = server_stub::routes::device::enroll::enroll_device(
        &f.db.pool,
        &req(&DeviceKey::generate()?, f.device.rsu_id),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "bad_signature");
    let e = server_stub::routes::device::enroll::enroll_device(
        &f.db.pool,
        &req(&f.device.key, Uuid::now_v7()),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "wrong_rsu");
    let ok = server_stub::routes::device::enroll::enroll_device(
        &f.db.pool,
        &req(&f.device.key, f.device.rsu_id),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(ok.continued);
    let withheld: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rsu_allocations WHERE rsu_id = $1 AND withheld_at IS NOT NULL",
    )
    .bind(f.device.rsu_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(withheld, 0, "the same database keeps its ranges");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn config_never_carries_a_range_of_an_event_it_does_not_carry() -> R {
    // Defect 15.3: next week's event (still `created`) with a range for this RSU.
    let f = Fixture::new().await?;
    let (_, v) = pull(&f, &f.device).await?;
    let before = v["config"]["allocations"].as_array().map(Vec::len);
    let ev: Value = sqlx::query_scalar("SELECT to_jsonb(e) FROM events e WHERE id = $1")
        .bind(f.event_id)
        .fetch_one(&f.db.pool)
        .await?;
    let next_week = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events SELECT (jsonb_populate_record(NULL::events,
             $1::jsonb || jsonb_build_object('id', $2::text, 'state', 'created',
                                             'event_identifier', 'NEXT-WEEK', 'name', 'Next week'))).*",
    )
    .bind(&ev)
    .bind(next_week.to_string())
    .execute(&f.db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_allocations (event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_available)
         VALUES ($1, $2, 5001, 5100, 5001, 100, 'active', 100)",
    )
    .bind(next_week)
    .bind(f.device.rsu_id)
    .execute(&f.db.pool)
    .await?;
    let (st, v) = pull(&f, &f.device).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let events: Vec<&str> = v["config"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for a in v["config"]["allocations"].as_array().unwrap() {
        assert!(
            events.contains(&a["eventId"].as_str().unwrap()),
            "{a} has no event in {events:?}"
        );
    }
    assert_eq!(v["config"]["allocations"].as_array().map(Vec::len), before);
    f.drop_db().await;
    Ok(())
}
