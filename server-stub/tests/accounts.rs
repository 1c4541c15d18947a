//! Admin accounts against a real PostgreSQL (issue 13, docs/server.md "Accounts and roles"):
//! password sign-in and its lockout, dashboard sessions and their cookie, CSRF on sign-out,
//! per-user API tokens beside the deprecated shared token, the role matrix on representative
//! routes, and `audit_log.changed_by`.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server_stub::accounts::{self, session, tokens, web, NewUser};
use server_stub::admin;
use server_stub::testkit::{Fixture, TEST_ADMIN_TOKEN};
use tower::ServiceExt;
use uuid::Uuid;

type R = anyhow::Result<()>;

const PW: &str = "correct horse battery staple";

/// What a test needs of an answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn error(&self) -> Option<String> {
        self.json()["error"].as_str().map(str::to_string)
    }

    fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header of the session cookie.
    fn session_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("rsu_session="))
    }

    /// The session token the cookie carries.
    fn session_token(&self) -> Option<String> {
        let c = self.session_cookie()?;
        let v = c.strip_prefix("rsu_session=")?;
        Some(v.split(';').next().unwrap_or("").to_string())
    }
}

async fn call(f: &Fixture, req: Request<Body>) -> anyhow::Result<Answer> {
    let res = f.router.clone().oneshot(req).await?;
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

fn form(path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

async fn sign_in(f: &Fixture, email: &str, password: &str) -> anyhow::Result<Answer> {
    let body = format!("email={}&password={}", enc(email), enc(password));
    call(f, form("/login").body(Body::from(body))?).await
}

async fn admin_call(
    f: &Fixture,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Answer> {
    let b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    let body = match body {
        Some(v) => Body::from(serde_json::to_vec(&v)?),
        None => Body::empty(),
    };
    call(f, b.body(body)?).await
}

async fn add_user(f: &Fixture, email: &str, role: &str, org: Uuid) -> anyhow::Result<Uuid> {
    let v = accounts::create_user(
        &f.db.pool,
        &NewUser {
            email,
            display_name: &format!("{role} {email}"),
            role,
            organization_id: org,
            password: PW,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::from_value(v["userId"].clone())?)
}

async fn token_of(f: &Fixture, email: &str) -> anyhow::Result<String> {
    Ok(tokens::create(&f.db.pool, email, "test script")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .token)
}

async fn other_org(f: &Fixture) -> anyhow::Result<(Uuid, Uuid)> {
    let v = admin::create_organization(
        &f.db.pool,
        &admin::NewOrganization {
            name: "Other Club".into(),
            license_number: "L-2".into(),
            currency: "USD".into(),
            validation_number_prefix: "OTH".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let org: Uuid = serde_json::from_value(v["organizationId"].clone())?;
    let now = Utc::now();
    let ev = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: org,
            venue_id: None,
            name: "Other event".into(),
            event_identifier: "OTHER-1".into(),
            currency: Some("USD".into()),
            sales_start_time: now - Duration::hours(1),
            sales_end_time: now + Duration::days(1),
            draw_time: now + Duration::days(2),
            max_tickets: 1000,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 100,
            jackpot_seed_amount: 0,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: None,
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "Play responsibly".into(),
            claim_deadline: "90 days".into(),
            rules_url: "https://example.org".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((org, serde_json::from_value(ev["eventId"].clone())?))
}

async fn count(f: &Fixture, from_where: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(&format!("SELECT count(*) FROM {from_where}"))
            .fetch_one(&f.db.pool)
            .await?,
    )
}

// ---------------------------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Sessions and signing out
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// API tokens and the shared token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_api_token_acts_as_its_user_until_revoked_and_changes_name_the_user() -> R {
    let f = Fixture::new().await?;
    let rm = add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    let t = tokens::create(&f.db.pool, "rm@example.org", "automation")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(t.token.starts_with(tokens::PREFIX));
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM admin_api_tokens WHERE id = $1")
            .bind(t.id)
            .fetch_one(&f.db.pool)
            .await?;
    assert_ne!(stored, t.token.as_bytes(), "only the hash is stored");

    let a = admin_call(
        &f,
        &t.token,
        "POST",
        "/v1/admin/events/transition",
        Some(json!({"eventId": f.event_id, "to": "suspended"})),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'events' AND operation = 'UPDATE'
          ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, Some(rm), "audit_log.changed_by names the token's user");
    let used: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM admin_api_tokens WHERE id = $1")
            .bind(t.id)
            .fetch_one(&f.db.pool)
            .await?;
    assert!(used.is_some());

    tokens::revoke(&f.db.pool, t.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let a = admin_call(
        &f,
        &t.token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error().as_deref(), Some("bad_admin_token"));

    // Deactivating a user revokes the user's tokens.
    let t2 = token_of(&f, "rm@example.org").await?;
    let report = format!("/v1/admin/events/{}/report", f.event_id);
    assert_eq!(
        admin_call(&f, &t2, "GET", &report, None).await?.status,
        StatusCode::OK
    );
    let v = accounts::set_active(&f.db.pool, "rm@example.org", false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(v["tokensRevoked"], 1);
    let a = admin_call(&f, &t2, "GET", &report, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_shared_token_still_works_is_counted_and_names_nobody() -> R {
    let f = Fixture::new().await?;
    let before = tokens::shared_token_uses();
    let a = admin_call(
        &f,
        TEST_ADMIN_TOKEN,
        "POST",
        "/v1/admin/venues",
        Some(json!({"organizationId": f.org_id, "name": "Hall"})),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(tokens::shared_token_uses() > before);
    let by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'venues' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, None);
    f.db.drop_db().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_role_may_do_what_the_matrix_says_and_only_in_its_organizations() -> R {
    let f = Fixture::new().await?;
    let (org_b, event_b) = other_org(&f).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    add_user(&f, "oa@example.org", "organization_admin", f.org_id).await?;
    add_user(&f, "sa@example.org", "system_admin", org_b).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let rm = token_of(&f, "rm@example.org").await?;
    let oa = token_of(&f, "oa@example.org").await?;
    let sa = token_of(&f, "sa@example.org").await?;
    let report_a = format!("/v1/admin/events/{}/report", f.event_id);
    let report_b = format!("/v1/admin/events/{event_b}/report");
    let suspend = json!({"eventId": f.event_id, "to": "suspended"});
    let resolve = json!({"entryId": Uuid::now_v7(), "note": "refunded"});
    let venue_a = json!({"organizationId": f.org_id, "name": "Hall A"});
    let venue_b = json!({"organizationId": org_b, "name": "Hall B"});
    let new_org = json!({"name": "Third", "licenseNumber": "L-3"});
    let denied = (StatusCode::FORBIDDEN, Some("permission_denied".to_string()));

    // The viewer sees, and changes nothing.
    let a = admin_call(&f, &viewer, "GET", &report_a, None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for (path, body) in [
        ("/v1/admin/events/transition", &suspend),
        ("/v1/admin/exceptions/resolve", &resolve),
        ("/v1/admin/venues", &venue_a),
    ] {
        let a = admin_call(&f, &viewer, "POST", path, Some(body.clone())).await?;
        assert_eq!((a.status, a.error()), denied, "viewer {path}: {}", a.body);
        assert!(a.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("permission"));
    }
    // The raffle manager moves events and resolves exceptions (an unknown entry gets past the
    // permission to the operation's own answer).
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/exceptions/resolve",
        Some(resolve.clone()),
    )
    .await?;
    assert_eq!(a.error().as_deref(), Some("unknown_entry"), "{}", a.body);
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/events/transition",
        Some(suspend.clone()),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/organizations",
        Some(new_org.clone()),
    )
    .await?;
    assert_eq!((a.status, a.error()), denied);
    // The organization admin of A: everything in A, nothing in B, no new organizations.
    let a = admin_call(&f, &oa, "POST", "/v1/admin/venues", Some(venue_a.clone())).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for (method, path, body) in [
        ("POST", "/v1/admin/venues", Some(venue_b.clone())),
        ("GET", report_b.as_str(), None),
        (
            "POST",
            "/v1/admin/events/transition",
            Some(json!({"eventId": event_b, "to": "cancelled"})),
        ),
        ("POST", "/v1/admin/organizations", Some(new_org.clone())),
    ] {
        let a = admin_call(&f, &oa, method, path, body).await?;
        assert_eq!(
            (a.status, a.error()),
            denied,
            "org admin {path}: {}",
            a.body
        );
    }
    // An unknown event is unknown, for everyone.
    let a = admin_call(
        &f,
        &oa,
        "GET",
        &format!("/v1/admin/events/{}/report", Uuid::now_v7()),
        None,
    )
    .await?;
    assert_eq!(a.error().as_deref(), Some("unknown_event"));
    // The system admin (granted in B) does everything everywhere.
    for (path, body) in [
        ("/v1/admin/venues", &venue_a),
        ("/v1/admin/organizations", &new_org),
    ] {
        let a = admin_call(&f, &sa, "POST", path, Some(body.clone())).await?;
        assert_eq!(a.status, StatusCode::OK, "system admin {path}: {}", a.body);
    }
    let a = admin_call(&f, &sa, "GET", &report_a, None).await?;
    assert_eq!(a.status, StatusCode::OK);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_draw_is_refused_for_a_viewer_with_permission_denied() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let rm = token_of(&f, "rm@example.org").await?;
    let draw = json!({"eventId": f.event_id});
    let a = admin_call(&f, &viewer, "POST", "/v1/admin/draws", Some(draw.clone())).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.error().as_deref(), Some("permission_denied"));
    assert_eq!(count(&f, "draw_executions").await?, 0);
    // The raffle manager gets past the permission to the draw's own refusal (not drawing_ready).
    let a = admin_call(&f, &rm, "POST", "/v1/admin/draws", Some(draw)).await?;
    assert_ne!(
        a.error().as_deref(),
        Some("permission_denied"),
        "{}",
        a.body
    );
    assert!(!a.status.is_success(), "{}", a.body);
    assert_eq!(count(&f, "draw_executions").await?, 0);
    f.db.drop_db().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_server-stub");

fn run_cli(f: &Fixture, args: &[&str], stdin: &str) -> anyhow::Result<std::process::Output> {
    use std::io::Write;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &f.db.url)
        .env_remove("SERVER_STUB_ADMIN_USER")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

#[tokio::test]
async fn the_cli_creates_users_and_tokens_and_attributes_changes_with_as() -> R {
    let f = Fixture::new().await?;
    let org = f.org_id.to_string();
    let create = [
        "admin",
        "create-user",
        "--email",
        "boss@example.org",
        "--name",
        "Boss",
        "--role",
        "organization_admin",
        "--organization-id",
        &org,
        "--password-stdin",
    ];
    let out = run_cli(&f, &create, "too short\n")?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 12"), "{err}");
    let out = run_cli(&f, &create, &format!("{PW}\n"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = sign_in(&f, "boss@example.org", PW).await?;
    assert_eq!(
        a.status,
        StatusCode::SEE_OTHER,
        "the piped password signs in"
    );

    // Without a terminal and without --password-stdin there is no prompt: a clear refusal.
    let out = run_cli(
        &f,
        &["admin", "set-password", "--email", "boss@example.org"],
        "",
    )?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    // A new password ends the sessions signed in with the old one.
    let session_token = a.session_token().unwrap_or_default();
    let out = run_cli(
        &f,
        &[
            "admin",
            "set-password",
            "--email",
            "boss@example.org",
            "--password-stdin",
        ],
        "an even better passphrase\n",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = session::resolve(&f.db.pool, &session_token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(live.is_none(), "the old session ended");
    assert_eq!(
        sign_in(&f, "boss@example.org", PW).await?.status,
        StatusCode::UNAUTHORIZED
    );
    let a = sign_in(&f, "boss@example.org", "an even better passphrase").await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER);

    let out = run_cli(
        &f,
        &[
            "admin",
            "create-token",
            "--email",
            "boss@example.org",
            "--name",
            "ci",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let token = v["token"].as_str().unwrap_or_default().to_string();
    let a = admin_call(
        &f,
        &token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    let out = run_cli(&f, &["admin", "list-tokens"], "")?;
    let listed: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(listed["tokens"][0]["name"], "ci");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&token),
        "never the secret"
    );

    let out = run_cli(
        &f,
        &[
            "admin",
            "--as",
            "boss@example.org",
            "create-venue",
            "--organization-id",
            &org,
            "--name",
            "Annex",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (by, boss): (Option<Uuid>, Uuid) = sqlx::query_as(
        "SELECT a.changed_by, u.id FROM audit_log a, users u
          WHERE a.table_name = 'venues' AND u.email = 'boss@example.org'
          ORDER BY a.id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, Some(boss));

    let out = run_cli(
        &f,
        &[
            "admin",
            "set-user-active",
            "--email",
            "boss@example.org",
            "--active",
            "false",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = admin_call(
        &f,
        &token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = sign_in(&f, "boss@example.org", "an even better passphrase").await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "deactivated");
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_close_out_step_by_api_token_records_the_user_by_name_and_id() -> R {
    let f = Fixture::new().await?;
    let rm = add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    let exclude =
        json!({"eventId": f.event_id, "rsuId": f.device.rsu_id, "reason": "stolen at gate 4"});
    let viewer = token_of(&f, "viewer@example.org").await?;
    let a = admin_call(
        &f,
        &viewer,
        "POST",
        "/v1/admin/rsus/exclude",
        Some(exclude.clone()),
    )
    .await?;
    assert_eq!(
        a.error().as_deref(),
        Some("permission_denied"),
        "{}",
        a.body
    );
    // No X-Admin-Name: the token's user is who did it.
    let token = token_of(&f, "rm@example.org").await?;
    let a = admin_call(&f, &token, "POST", "/v1/admin/rsus/exclude", Some(exclude)).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let by: String = sqlx::query_scalar("SELECT excluded_by FROM rsu_event_exclusions")
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(by, "raffle_manager rm@example.org");
    let changed_by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'rsu_event_exclusions'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(changed_by, Some(rm));
    f.db.drop_db().await;
    Ok(())
}

/// Every admin route of organization A, with a body that parses, and whether a viewer may use it.
fn every_admin_route(
    f: &Fixture,
    package: Uuid,
    entry: Uuid,
) -> Vec<(&'static str, String, Option<Value>, bool)> {
    let now = Utc::now();
    let (ev, rsu, org) = (f.event_id, f.device.rsu_id, f.org_id);
    let event = admin::NewEvent {
        organization_id: org,
        venue_id: None,
        name: "E".into(),
        event_identifier: "E-2".into(),
        currency: None,
        sales_start_time: now,
        sales_end_time: now + Duration::days(1),
        draw_time: now + Duration::days(2),
        max_tickets: 100,
        rsu_range_start: None,
        rsu_range_end: None,
        default_allocation_size: 10,
        jackpot_seed_amount: 0,
        jackpot_starting_amount: 0,
        jackpot_percentage_bp: None,
        price_lock: true,
        offline_sales_allowed: true,
        responsible_gaming_text: "Play responsibly".into(),
        claim_deadline: "90 days".into(),
        rules_url: "https://example.org".into(),
        description: None,
    };
    let p = |s: &str| s.to_string();
    vec![
        (
            "POST",
            p("/v1/admin/organizations"),
            Some(json!({"name": "X", "licenseNumber": "L"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/venues"),
            Some(json!({"organizationId": org, "name": "V"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events"),
            serde_json::to_value(&event).ok(),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events/transition"),
            Some(json!({"eventId": ev, "to": "suspended"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events/transition"),
            Some(json!({"eventId": ev, "to": "reconciled"})),
            false,
        ),
        ("GET", format!("/v1/admin/events/{ev}/report"), None, true),
        (
            "POST",
            p("/v1/admin/exceptions/resolve"),
            Some(json!({"entryId": entry, "note": "n"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/exclude"),
            Some(json!({"eventId": ev, "rsuId": rsu, "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/include"),
            Some(json!({"eventId": ev, "rsuId": rsu, "reason": "r"})),
            false,
        ),
        (
            "POST",
            format!("/v1/admin/rsus/import-journal?rsuId={rsu}"),
            Some(json!({})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/packages"),
            Some(json!({"eventId": ev, "name": "P", "ticketCount": 1, "price": 100})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/packages/price"),
            Some(json!({"packageId": package, "price": 100})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/prizes"),
            Some(json!({"eventId": ev, "name": "P", "type": "fixed", "value": 100, "position": 9})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/operators"),
            Some(json!({"organizationId": org, "name": "O", "role": "seller", "pin": "9876"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus"),
            Some(json!({"organizationId": org, "name": "R"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/enrollment-tokens"),
            Some(json!({"rsuId": rsu})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/keys/revoke"),
            Some(json!({"rsuId": rsu, "all": true, "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/keys/list"),
            Some(json!({"rsuId": rsu})),
            true,
        ),
        (
            "POST",
            p("/v1/admin/rsus/state"),
            Some(json!({"rsuId": rsu, "state": "lost", "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/release-withheld"),
            Some(json!({"rsuId": rsu, "note": "n"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/allocations"),
            Some(json!({"eventId": ev, "rsuId": rsu, "count": 10})),
            false,
        ),
        ("POST", p("/v1/admin/demo-seed"), None, false),
        (
            "POST",
            p("/v1/admin/draws"),
            Some(json!({"eventId": ev})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/draws/redraw"),
            Some(json!({"eventId": ev, "reason": "r"})),
            false,
        ),
        (
            "GET",
            format!("/v1/admin/events/{ev}/draw-commitment"),
            None,
            true,
        ),
        (
            "GET",
            format!("/v1/admin/events/{ev}/draw-export"),
            None,
            true,
        ),
        (
            "POST",
            p("/v1/admin/claims"),
            Some(json!({"validationNumber": "RSU-1-1-XXXX", "organizationId": org})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/receipts/verify"),
            Some(json!({"qr": "not a receipt"})),
            false,
        ),
    ]
}

#[tokio::test]
async fn every_admin_route_refuses_a_viewer_its_changes_and_another_organization_everything() -> R {
    let mut f = Fixture::new().await?;
    // A journal entry of A's device, for the exception route.
    let sale = f.sale(1);
    let (st, v) = f.push(std::slice::from_ref(&sale)).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let entry = sale.body.entry_id;
    let (org_b, _) = other_org(&f).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "oab@example.org", "organization_admin", org_b).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let admin_b = token_of(&f, "oab@example.org").await?;
    let package = f.pkg(1).id;
    let audited = count(&f, "audit_log").await?;
    for (method, path, body, viewer_may) in every_admin_route(&f, package, entry) {
        let a = admin_call(&f, &viewer, method, &path, body.clone()).await?;
        if viewer_may {
            assert_ne!(
                a.error().as_deref(),
                Some("permission_denied"),
                "viewer {path}: {}",
                a.body
            );
        } else {
            assert_eq!(
                (a.status, a.error().as_deref()),
                (StatusCode::FORBIDDEN, Some("permission_denied")),
                "viewer {method} {path} {body:?}: {}",
                a.body
            );
        }
        // The admin of another organization is refused everything of A (receipt checks name
        // no organization until the receipt parses; a junk one is answered as junk).
        if path != "/v1/admin/receipts/verify" {
            let a = admin_call(&f, &admin_b, method, &path, body).await?;
            assert_eq!(
                (a.status, a.error().as_deref()),
                (StatusCode::FORBIDDEN, Some("permission_denied")),
                "admin of B {method} {path}: {}",
                a.body
            );
        }
    }
    assert_eq!(count(&f, "audit_log").await?, audited, "nothing changed");
    f.db.drop_db().await;
    Ok(())
}
