//! Admission control of journal pushes (issue 16): a push that finds the gate full is answered at
//! once with 503 `server_busy` and a `Retry-After`, applies nothing, and succeeds when sent again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use server_stub::admission::PushGate;
use server_stub::testkit::Fixture;
use tower::ServiceExt;

#[tokio::test]
async fn a_full_gate_answers_503_with_retry_after_and_applies_nothing() -> anyhow::Result<()> {
    let mut f = Fixture::new().await?;
    let mut st = f.state.clone();
    st.push_gate = Arc::new(PushGate::new(1, 0, Duration::from_millis(50)));
    let router = server_stub::router(st.clone());
    let entries = vec![f.sale(1), f.sale(5)];

    let held = st
        .push_gate
        .enter()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let req: Request<Body> = f.device.push_request(&entries)?;
    let res = router.clone().oneshot(req).await?;
    assert_eq!(res.status(), 503);
    let secs: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()?
        .parse()?;
    assert!((1..=30).contains(&secs), "{secs}");
    assert!(batch_max(&res) >= server_stub::admission::MIN_BATCH);
    let body = axum::body::to_bytes(res.into_body(), 1 << 16).await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(v["error"], "server_busy", "{v}");
    assert_eq!(f.count("device_journal").await?, 0, "nothing applied");

    drop(held);
    let res = router.oneshot(f.device.push_request(&entries)?).await?;
    assert_eq!(res.status(), 200);
    assert_eq!(batch_max(&res), 1000, "nobody queued: the protocol's most");
    assert_eq!(f.count("device_journal").await?, 2);
    f.drop_db().await;
    Ok(())
}

fn batch_max(res: &axum::http::Response<Body>) -> usize {
    res.headers()
        .get(rsu_core::wire::HEADER_BATCH_MAX)
        .expect("X-Rsu-Batch-Max on every push answer")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number")
}

/// With pushes queued behind the one working, the answer asks for smaller batches: the queue
/// turns over within the longest wait instead of timing pushes out.
#[tokio::test]
async fn a_queue_behind_the_push_asks_for_smaller_batches() -> anyhow::Result<()> {
    let mut f = Fixture::new().await?;
    let mut st = f.state.clone();
    st.push_gate = Arc::new(PushGate::new(1, 8, Duration::from_secs(2)));
    let router = server_stub::router(st.clone());
    let entries = vec![f.sale(1)];
    let held = st
        .push_gate
        .enter()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Eight pushes wait behind the held permit; the ninth is refused at once.
    let mut queued = Vec::new();
    for _ in 0..8 {
        let gate = st.push_gate.clone();
        queued.push(tokio::spawn(async move {
            let _p = gate.enter().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            tokio::time::sleep(Duration::from_millis(10)).await;
            anyhow::Ok(())
        }));
    }
    while st.push_gate.waiting() < 8 {
        tokio::task::yield_now().await;
    }
    let res = router
        .clone()
        .oneshot(f.device.push_request(&entries)?)
        .await?;
    assert_eq!(res.status(), 503);
    let busy = batch_max(&res);
    assert!(
        busy < 1000,
        "a deep queue asks for less than the most: {busy}"
    );
    drop(held);
    for q in queued {
        q.await??;
    }
    let res = router.oneshot(f.device.push_request(&entries)?).await?;
    assert_eq!(res.status(), 200);
    assert_eq!(batch_max(&res), 1000);
    f.drop_db().await;
    Ok(())
}
