//! Sessions: idle and absolute timeouts, sign-out with its CSRF token.

use crate::helpers::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Utc;
use server_stub::accounts::session;
use server_stub::testkit::Fixture;

#[tokio::test]
async fn a_session_ends_when_idle_too_long_or_past_its_absolute_expiry() -> R {
    let f = Fixture::new().await?;
    let ana = add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    let live = |t: String| {
        let pool = f.db.pool.clone();
        async move {
            session::resolve(&pool, &t)
                .await
                .map(|s| s.is_some())
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    let idle = session::create(&f.db.pool, ana)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(live(idle.token.clone()).await?);
    sqlx::query("UPDATE admin_sessions SET last_seen_at = NOW() - INTERVAL '29 minutes'")
        .execute(&f.db.pool)
        .await?;
    assert!(
        live(idle.token.clone()).await?,
        "29 minutes idle is still live (and touches it)"
    );
    sqlx::query("UPDATE admin_sessions SET last_seen_at = NOW() - INTERVAL '31 minutes'")
        .execute(&f.db.pool)
        .await?;
    assert!(
        !live(idle.token.clone()).await?,
        "31 minutes idle has ended"
    );

    let old = session::create(&f.db.pool, ana)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(live(old.token.clone()).await?);
    sqlx::query("UPDATE admin_sessions SET expires_at = NOW() - INTERVAL '1 second' WHERE last_seen_at > NOW() - INTERVAL '1 minute'")
        .execute(&f.db.pool)
        .await?;
    assert!(!live(old.token.clone()).await?, "past the absolute expiry");
    // The absolute expiry is 12 hours after sign-in.
    let fresh = session::create(&f.db.pool, ana)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hours = (fresh.expires_at - Utc::now()).num_minutes();
    assert!((719..=720).contains(&hours), "{hours} minutes");
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn sign_out_needs_the_session_csrf_token_then_ends_the_session() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    let a = sign_in(&f, "ana@example.org", PW).await?;
    let token = a.session_token().unwrap_or_default();
    let s = session::resolve(&f.db.pool, &token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    let logout = |body: String| -> anyhow::Result<Request<Body>> {
        Ok(form("/logout")
            .header(header::COOKIE, format!("rsu_session={token}"))
            .body(Body::from(body))?)
    };
    for body in [
        String::new(),
        "csrf=".into(),
        format!("csrf={}", "0".repeat(64)),
    ] {
        let a = call(&f, logout(body.clone())?).await?;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{body:?}");
        assert_eq!(a.error().as_deref(), Some("csrf_rejected"), "{body:?}");
    }
    assert!(
        session::resolve(&f.db.pool, &token)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_some(),
        "a refused sign-out leaves the session alone"
    );
    let a = call(&f, logout(format!("csrf={}", s.csrf))?).await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), Some("/login"));
    let cleared = a.session_cookie().unwrap_or_default();
    assert!(cleared.starts_with("rsu_session=;"), "{cleared}");
    assert!(
        session::resolve(&f.db.pool, &token)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_none(),
        "signed out"
    );
    // Without a session at all, a sign-out post is 401.
    let a = call(&f, form("/logout").body(Body::from("csrf=x"))?).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    f.db.drop_db().await;
    Ok(())
}
