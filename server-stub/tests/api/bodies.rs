//! Malformed JSON, wrong types and oversized bodies.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rsu_core::wire::{self};
use serde_json::{json, Value};
use server_stub::testkit::{http_request, Fixture, TestServer};

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_wrong_types_and_oversized_bodies_are_4xx_naming_the_problem() -> R {
    let mut f = Fixture::new().await?;
    let cases: Vec<(Vec<u8>, StatusCode, &str, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "not valid JSON",
        ),
        (
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "empty",
        ),
        (
            br#"{"epoch": "one", "entries": []}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "epoch",
        ),
        (
            br#"{"epoch": 1}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "entries",
        ),
        (
            br#"{"epoch": 1, "entries": [{"seq": "x"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "entries[0]",
        ),
        (
            br#"[1,2,3]"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "JSON object",
        ),
    ];
    for (body, status, code, needle) in cases {
        let (st, v) = f
            .send(f.device.request("POST", wire::PATH_JOURNAL, body.clone())?)
            .await?;
        assert_eq!(st, status, "{} -> {v}", String::from_utf8_lossy(&body));
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].as_str().unwrap_or("").contains(needle), "{v}");
    }
    // Wrong type deep inside an entry.
    let mut e = f.sale(1);
    let mut text: Value = serde_json::from_slice(&f.device.push_body(&[e.clone()])?)?;
    text["entries"][0]["seq"] = json!(-3);
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_JOURNAL, serde_json::to_vec(&text)?)?,
        )
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap_or("").contains("entries[0]"),
        "{v}"
    );
    // Not contiguous.
    e.body.seq = 1;
    let mut e2 = e.clone();
    e2.body.seq = 3;
    let (st, v) = f.push(&[e, e2]).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("batch_not_contiguous")),
        "{v}"
    );
    // Oversized: 5 MiB.
    let big = vec![b' '; 5 * 1024 * 1024];
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_JOURNAL, big)?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")),
        "{v}"
    );
    // Oversized over a real socket too, without Content-Length tricks.
    let server = TestServer::spawn(f.state.clone()).await?;
    let big = vec![b' '; 5 * 1024 * 1024];
    let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &big)?;
    let (st, v) = http_request(server.addr, "POST", wire::PATH_JOURNAL, &headers, &big).await?;
    assert_eq!(st, 413, "{v}");
    // Unknown path.
    let (st, v) = f
        .send(Request::builder().uri("/v1/nothing").body(Body::empty())?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_endpoint"))
    );
    server.stop().await;
    f.drop_db().await;
    Ok(())
}
