//! Signing in: the form, the session cookie, the generic refusal, lockout, rate limits, origin.

use crate::helpers::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use server_stub::accounts::{self, session, web};
use server_stub::testkit::Fixture;
use uuid::Uuid;

#[tokio::test]
async fn the_sign_in_page_is_a_labelled_form_that_keeps_next() -> R {
    let f = Fixture::new().await?;
    let a = call(
        &f,
        Request::get("/login?next=/dashboard/events").body(Body::empty())?,
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK);
    for needle in [
        r#"<label for="email">"#,
        r#"id="email" name="email""#,
        r#"<label for="password">"#,
        r#"id="password" name="password""#,
        r#"id="sign-in""#,
        r#"name="next" value="/dashboard/events""#,
    ] {
        assert!(a.body.contains(needle), "{needle} missing from {}", a.body);
    }
    assert!(!a.body.contains("sign-out"), "nobody is signed in");
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_right_password_starts_a_session_with_a_strict_http_only_cookie() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    let body = format!(
        "email=ANA%40example.org&password={}&next=%2Fdashboard%2Fevents%3Fe%3D1",
        enc(PW)
    );
    let a = call(&f, form("/login").body(Body::from(body))?).await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), Some("/dashboard/events?e=1"));
    let cookie = a.session_cookie().unwrap_or_default().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let token = a.session_token().unwrap_or_default();
    let s = session::resolve(&f.db.pool, &token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(s.is_some(), "the cookie names a live session");

    // Behind a TLS proxy the cookie is Secure; a next that leaves the site goes home instead.
    for (next, home) in [
        ("%2F%2Fevil.example%2Fx", "/dashboard"),
        ("https%3A%2F%2Fevil.example", "/dashboard"),
    ] {
        let body = format!("email=ana%40example.org&password={}&next={next}", enc(PW));
        let a = call(
            &f,
            form("/login")
                .header("x-forwarded-proto", "https")
                .body(Body::from(body))?,
        )
        .await?;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(a.location(), Some(home));
        let cookie = a.session_cookie().unwrap_or_default();
        assert!(cookie.contains("Secure"), "{cookie}");
    }
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn every_refused_sign_in_shows_the_same_generic_message() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    add_user(&f, "gone@example.org", "viewer", f.org_id).await?;
    accounts::set_active(&f.db.pool, "gone@example.org", false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (email, pw) in [
        ("ana@example.org", "wrong password 123"),
        ("nobody@example.org", PW),
        ("gone@example.org", PW),
        ("", ""),
    ] {
        let a = sign_in(&f, email, pw).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{email}");
        assert!(a.body.contains(web::REFUSED), "{email}: {}", a.body);
        assert!(a.session_cookie().is_none(), "{email}");
        assert!(!a.body.to_lowercase().contains("locked until"), "{email}");
    }
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_and_log_a_critical_event() -> R {
    let f = Fixture::new().await?;
    let ana = add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    let lockouts =
        "critical_events WHERE event_type = 'ADMIN_LOGIN_LOCKOUT' AND severity = 'CRITICAL'";
    for i in 1..=4 {
        let a = sign_in(&f, "ana@example.org", &format!("wrong password {i}")).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        count(&f, lockouts).await?,
        0,
        "four wrong passwords do not lock"
    );
    let a = sign_in(&f, "ana@example.org", "wrong password 5").await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&f, lockouts).await?, 1);
    let who: Option<Uuid> = sqlx::query_scalar(&format!("SELECT user_id FROM {lockouts}"))
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(who, Some(ana));

    // Locked: even the right password is refused, with the same message.
    let a = sign_in(&f, "ana@example.org", PW).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains(web::REFUSED));
    assert!(a.session_cookie().is_none());

    // The lockout over, the right password works again.
    sqlx::query("UPDATE users SET locked_until = NOW() - INTERVAL '1 second' WHERE id = $1")
        .bind(ana)
        .execute(&f.db.pool)
        .await?;
    let a = sign_in(&f, "ana@example.org", PW).await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_email_and_per_client() -> R {
    let f = Fixture::new().await?;
    for _ in 0..web::MAX_ATTEMPTS_PER_EMAIL {
        let a = sign_in(&f, "nobody@example.org", "some password 1").await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = sign_in(&f, "nobody@example.org", "some password 1").await?;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a.body.contains("Too many sign-in attempts"));

    // Per client: a proxy on this host says who the client is.
    let from = |n: i64| -> anyhow::Result<Request<Body>> {
        let body = format!("email=user{n}%40example.org&password=whatever12345");
        let mut req = form("/login")
            .header("x-forwarded-for", "203.0.113.7")
            .body(Body::from(body))?;
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40000,
            ))));
        Ok(req)
    };
    for n in 0..web::MAX_ATTEMPTS_PER_CLIENT {
        let a = call(&f, from(n)?).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = call(&f, from(999)?).await?;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let clients: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT client FROM login_attempts ORDER BY 1")
            .fetch_all(&f.db.pool)
            .await?;
    assert_eq!(
        clients,
        vec!["203.0.113.7".to_string(), "unknown".to_string()]
    );
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_sign_in_form_posted_from_another_site_is_refused() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "ana@example.org", "viewer", f.org_id).await?;
    let body = format!("email=ana%40example.org&password={}", enc(PW));
    let a = call(
        &f,
        form("/login")
            .header(header::HOST, "raffle.example.org")
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::from(body))?,
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.error().as_deref(), Some("csrf_rejected"));
    // The same site, directly or through a proxy that rewrites Host, signs in.
    for (host, forwarded) in [
        ("raffle.example.org", None),
        ("127.0.0.1:8080", Some("raffle.example.org")),
    ] {
        let body = format!("email=ana%40example.org&password={}", enc(PW));
        let mut b = form("/login")
            .header(header::HOST, host)
            .header(header::ORIGIN, "https://raffle.example.org");
        if let Some(fh) = forwarded {
            b = b.header("x-forwarded-host", fh);
        }
        let a = call(&f, b.body(Body::from(body))?).await?;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{host}: {}", a.body);
    }
    f.db.drop_db().await;
    Ok(())
}
