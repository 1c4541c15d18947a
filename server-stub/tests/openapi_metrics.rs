//! The OpenAPI document (generated, served, committed, complete) and `/metrics` (moved by real
//! pushes and heartbeats against a real PostgreSQL, served on its own address).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rsu_core::wire::{self, HeartbeatRequest};
use serde_json::Value;
use server_stub::testkit::{self, Fixture, TestDb, TEST_ADMIN_TOKEN};
use server_stub::AppState;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type R = anyhow::Result<()>;

const BIN: &str = env!("CARGO_BIN_EXE_server-stub");

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

// ------------------------------------------------------------------------------------------------
// OpenAPI
// ------------------------------------------------------------------------------------------------

#[test]
fn the_committed_openapi_document_is_the_one_the_code_generates() -> R {
    let path = repo_file("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = server_stub::openapi::json();
    assert!(
        committed == generated,
        "docs/openapi.json differs from what the code generates: regenerate it with\n    {}\n\
         (from the repository root) and commit it",
        server_stub::openapi::REGENERATE
    );
    Ok(())
}

#[test]
fn the_cli_prints_the_document_without_a_database() -> R {
    let out = Command::new(BIN)
        .arg("openapi")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout)?, server_stub::openapi::json());
    Ok(())
}

/// `(METHOD, path)` of every documented operation.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `(METHOD, path)` of every API route the router declares, read from server-stub/src/routes
/// (`.route(PATH, get(…))`, paths as literals or rsu-core's `wire::PATH_*` constants). The
/// dashboard's HTML pages are not part of the API; `/v1/*`, `/health` and `/openapi.json` are.
fn routed() -> anyhow::Result<BTreeSet<(String, String)>> {
    let consts = [
        ("wire::PATH_ENROLL", wire::PATH_ENROLL),
        ("wire::PATH_CONFIG", wire::PATH_CONFIG),
        ("wire::PATH_ALLOCATIONS", wire::PATH_ALLOCATIONS),
        ("wire::PATH_JOURNAL", wire::PATH_JOURNAL),
        ("wire::PATH_HEARTBEAT", wire::PATH_HEARTBEAT),
        ("wire::PATH_KEYS", wire::PATH_KEYS),
    ];
    let mut files = vec![];
    let mut dirs = vec![repo_file("server-stub/src/routes")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        for chunk in text.split(".route(").skip(1) {
            let Some((target, rest)) = chunk.split_once(',') else {
                continue;
            };
            let target = target.trim();
            let path = if let Some(lit) = target.strip_prefix('"') {
                lit.trim_end_matches('"').to_string()
            } else if let Some((_, v)) = consts.iter().find(|(k, _)| *k == target) {
                v.to_string()
            } else {
                anyhow::bail!("{}: route target {target} not understood", f.display());
            };
            if !(path.starts_with("/v1/") || path == "/health" || path == "/openapi.json") {
                continue;
            }
            // Every method router of the route: `get(…)`, `post(…)`, `get(…).post(…)`.
            let call = rest.split(")\n").next().unwrap_or(rest);
            for method in ["get", "post", "put", "delete", "patch"] {
                let direct = call.trim_start().starts_with(&format!("{method}("));
                if direct || call.contains(&format!(".{method}(")) {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    Ok(out)
}

#[test]
fn every_api_route_is_documented_and_every_documented_route_is_routed() -> R {
    let doc: Value = serde_json::from_str(&server_stub::openapi::json())?;
    let documented = documented(&doc);
    let routed = routed()?;
    assert!(
        routed.len() >= 35,
        "routes not found in the sources: {routed:?}"
    );
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes without an OpenAPI description (add them in server-stub/src/openapi/): {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    Ok(())
}

#[test]
fn the_document_is_openapi_3_1_with_resolvable_references_and_both_security_schemes() -> R {
    let doc: Value = serde_json::from_str(&server_stub::openapi::json())?;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["adminToken"]["scheme"], "bearer");
    assert_eq!(schemes["deviceSignature"]["name"], "X-Rsu-Signature");
    // Every $ref names a component.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
    // Every operation has an id, and every signed device route its headers and scheme.
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            if path.starts_with("/v1/rsu/") && path != wire::PATH_ENROLL {
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for h in ["X-Rsu-Id", "X-Rsu-Key-Id", "X-Rsu-Timestamp", "X-Rsu-Nonce"] {
                    assert!(names.contains(&h), "{method} {path} lacks {h}: {names:?}");
                }
                assert_eq!(op["security"][0]["deviceSignature"], serde_json::json!([]));
            }
            if path.starts_with("/v1/admin/") {
                assert_eq!(op["security"][0]["adminToken"], serde_json::json!([]));
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_server_serves_the_document_and_answers_every_documented_route() -> R {
    let db = TestDb::create().await?;
    let state = AppState::new(db.pool.clone(), Some(TEST_ADMIN_TOKEN))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let router = server_stub::router(state);
    let (st, served) =
        testkit::send(&router, Request::get("/openapi.json").body(Body::empty())?).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        served,
        serde_json::from_str::<Value>(&server_stub::openapi::json())?
    );
    // Unauthenticated, every documented operation is routed (refused, never `no_such_endpoint`).
    for (method, path) in documented(&served) {
        let uri = path.replace("{id}", &uuid::Uuid::nil().to_string());
        let (st, v) = testkit::send(
            &router,
            Request::builder()
                .method(method.as_str())
                .uri(&uri)
                .body(Body::empty())?,
        )
        .await?;
        assert_ne!(v["error"], "no_such_endpoint", "{method} {path}: {st} {v}");
    }
    db.drop_db().await;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Metrics
// ------------------------------------------------------------------------------------------------

async fn scrape(f: &Fixture) -> anyhow::Result<String> {
    use tower::ServiceExt;
    let res = server_stub::metrics::router(f.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty())?)
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()?
        .starts_with("application/openmetrics-text"));
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    Ok(String::from_utf8(bytes.to_vec())?)
}

/// The value of the sample `name{labels}` (labels exactly as encoded), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn heartbeat(f: &Fixture, pending: u64) -> R {
    let body = HeartbeatRequest {
        epoch: f.device.epoch,
        last_seq: 0,
        pending_count: pending,
        oldest_pending_age_secs: Some(90),
        printer_status: "ok".into(),
        printer_status_age_secs: None,
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        acknowledged_commands: vec![],
    };
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_HEARTBEAT, serde_json::to_vec(&body)?)?,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    Ok(())
}

#[tokio::test]
async fn a_push_moves_the_counters_and_the_latency_histogram() -> R {
    let mut f = Fixture::new().await?;
    let before = scrape(&f).await?;
    assert_eq!(
        sample(&before, "rsu_push_duration_seconds_count"),
        Some(0.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, r#"rsu_pushes_total{result="accepted"}"#),
        None
    );

    // One applied sale, then the same entry again (a duplicate), then a sale of an unknown
    // package (rejected), then a push whose signature does not verify.
    let sale = f.sale(1);
    let (st, v) = f.push(std::slice::from_ref(&sale)).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = f.push(std::slice::from_ref(&sale)).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["status"], "duplicate");
    let (pkg, event, seller) = (f.pkg(1), f.event_id, f.seller_id);
    let numbers = f.device.take_numbers(1);
    let mut bad = f.device.sale_payload(event, &pkg, numbers, seller);
    bad.package_id = uuid::Uuid::nil();
    let entry = f
        .device
        .entry(rsu_core::EntryKind::Sale, serde_json::to_value(bad)?);
    let (st, v) = f.push(&[entry]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    let mut forged = f.device.push_request(&[])?;
    forged
        .headers_mut()
        .insert(wire::HEADER_SIGNATURE, "0".repeat(128).parse()?);
    let (st, _) = f.send(forged).await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let after = scrape(&f).await?;
    assert_eq!(
        sample(&after, r#"rsu_pushes_total{result="accepted"}"#),
        Some(3.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"rsu_pushes_total{result="bad_signature"}"#),
        Some(1.0),
        "{after}"
    );
    let entries = |result: &str, code: &str| {
        sample(
            &after,
            &format!(r#"rsu_journal_entries_total{{result="{result}",code="{code}"}}"#),
        )
    };
    assert_eq!(entries("applied", ""), Some(1.0), "{after}");
    assert_eq!(entries("duplicate", ""), Some(1.0), "{after}");
    assert_eq!(entries("rejected", "unknown_package"), Some(1.0), "{after}");
    // Authenticated pushes are timed; the refused one never reached the ingest.
    assert_eq!(
        sample(&after, "rsu_push_duration_seconds_count"),
        Some(3.0),
        "{after}"
    );
    assert!(sample(&after, "rsu_push_duration_seconds_sum").is_some_and(|s| s > 0.0));
    assert!(
        after.contains("# TYPE rsu_push_duration_seconds histogram"),
        "{after}"
    );
    // The pool gauges are there.
    assert!(
        sample(&after, "rsu_db_pool_max_connections").is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert!(
        after.contains(r#"rsu_db_pool_connections{state="idle"}"#),
        "{after}"
    );
    assert!(after.trim_end().ends_with("# EOF"));
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn devices_by_freshness_and_pending_entries_follow_the_heartbeats() -> R {
    let f = Fixture::new().await?;
    let org = f.org_id;
    let devices = |text: &str, freshness: &str| {
        sample(
            text,
            &format!(r#"rsu_devices{{organization="{org}",freshness="{freshness}"}}"#),
        )
    };
    let before = scrape(&f).await?;
    let never = devices(&before, "never").unwrap_or(-1.0);
    assert!(
        never >= 1.0,
        "the enrolled device has sent no heartbeat yet: {before}"
    );
    assert_eq!(devices(&before, "under_1m"), Some(0.0), "{before}");

    heartbeat(&f, 7).await?;
    let after = scrape(&f).await?;
    assert_eq!(devices(&after, "under_1m"), Some(1.0), "{after}");
    assert_eq!(devices(&after, "never"), Some(never - 1.0), "{after}");
    let event = format!(r#"{{organization="{org}",event="{}"}}"#, f.event_id);
    assert_eq!(
        sample(&after, &format!("rsu_pending_entries{event}")),
        Some(7.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, &format!("rsu_oldest_pending_age_seconds{event}")),
        Some(90.0),
        "{after}"
    );

    // An hour later (the heartbeat's time moved back), the device is in the oldest bucket.
    sqlx::query(
        "UPDATE rsu_epochs SET last_heartbeat_at = NOW() - INTERVAL '2 hours' WHERE rsu_id = $1",
    )
    .bind(f.device.rsu_id)
    .execute(&f.db.pool)
    .await?;
    let later = scrape(&f).await?;
    assert_eq!(devices(&later, "under_1m"), Some(0.0), "{later}");
    assert_eq!(devices(&later, "over_1h"), Some(1.0), "{later}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn serve_exposes_metrics_only_on_the_metrics_address() -> R {
    let db = TestDb::create().await?;
    let free = || -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (port, mport) = (free()?, free()?);
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SERVER_STUB_BIND", format!("127.0.0.1:{port}"))
        .env("SERVER_STUB_METRICS_ADDR", format!("127.0.0.1:{mport}"))
        .env("SERVER_STUB_ADMIN_TOKEN", TEST_ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", mport)).is_err()
    {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            anyhow::bail!("server-stub did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let (st, body) = testkit::http_request(addr(mport), "GET", "/metrics", &[], b"").await?;
    let text = body.as_str().unwrap_or_default().to_string();
    let (api_st, api_body) = testkit::http_request(addr(port), "GET", "/metrics", &[], b"").await?;
    child.kill()?;
    child.wait()?;
    db.drop_db().await;
    assert_eq!(st, 200, "{body}");
    assert!(text.contains("# TYPE rsu_pushes counter"), "{text}");
    assert!(text.contains("rsu_db_pool_max_connections"), "{text}");
    assert_eq!(
        api_st, 404,
        "the API address must not serve metrics: {api_body}"
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// What the contract test found (scripts/contract-test.sh)
// ------------------------------------------------------------------------------------------------

/// Schemathesis sent `"licenseNumber": "\u0000H"` and got a 500: PostgreSQL cannot store NUL in
/// text. Now a 400 `invalid_field`, for admin and device requests alike.
#[tokio::test]
async fn a_nul_character_in_a_text_field_is_refused_as_invalid_not_a_server_error() -> R {
    let f = Fixture::new().await?;
    let req = Request::post("/v1/admin/organizations")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TEST_ADMIN_TOKEN}"))
        .body(Body::from(
            r#"{"name": "1 ticket", "licenseNumber": "\u0000H", "currency": "USD"}"#,
        ))?;
    let (st, v) = f.send(req).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap_or_default().contains("U+0000"),
        "{v}"
    );
    let body = HeartbeatRequest {
        epoch: f.device.epoch,
        last_seq: 0,
        pending_count: 0,
        oldest_pending_age_secs: None,
        printer_status: "ok\u{0}".into(),
        printer_status_age_secs: None,
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        acknowledged_commands: vec![],
    };
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_HEARTBEAT, serde_json::to_vec(&body)?)?,
        )
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

/// Schemathesis sent `X-Rsu-Timestamp: -9223372036854775808` and the connection was dropped (the
/// clock-skew subtraction overflowed). Any integer is now answered 401 `clock_skew`, on the push
/// (checked before its body is read) and on the other signed routes.
#[tokio::test]
async fn an_extreme_timestamp_is_a_clock_skew_not_a_dropped_connection() -> R {
    let f = Fixture::new().await?;
    for ts in [i64::MIN, i64::MAX] {
        for (path, body) in [
            (wire::PATH_JOURNAL, f.device.push_body(&[])?),
            (wire::PATH_HEARTBEAT, b"{}".to_vec()),
        ] {
            let d = &f.device;
            let h = wire::sign_request(&d.key, d.rsu_id, d.key_id, "POST", path, &body, ts)?;
            let (st, v) = f.send(d.request_with("POST", path, body, &h)?).await?;
            assert_eq!(
                (st, v["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("clock_skew")),
                "{path} {ts}: {v}"
            );
        }
    }
    f.drop_db().await;
    Ok(())
}
