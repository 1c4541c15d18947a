//! Helpers shared by the topic modules.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use server_stub::accounts::{self, tokens, NewUser};
use server_stub::admin;
use server_stub::testkit::Fixture;
use tower::ServiceExt;
use uuid::Uuid;
pub type R = anyhow::Result<()>;

pub const PW: &str = "correct horse battery staple";

/// What a test needs of an answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn error(&self) -> Option<String> {
        self.json()["error"].as_str().map(str::to_string)
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header of the session cookie.
    pub fn session_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("rsu_session="))
    }

    /// The session token the cookie carries.
    pub fn session_token(&self) -> Option<String> {
        let c = self.session_cookie()?;
        let v = c.strip_prefix("rsu_session=")?;
        Some(v.split(';').next().unwrap_or("").to_string())
    }
}

pub async fn call(f: &Fixture, req: Request<Body>) -> anyhow::Result<Answer> {
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

pub fn form(path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

pub fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

pub async fn sign_in(f: &Fixture, email: &str, password: &str) -> anyhow::Result<Answer> {
    let body = format!("email={}&password={}", enc(email), enc(password));
    call(f, form("/login").body(Body::from(body))?).await
}

pub async fn admin_call(
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

pub async fn add_user(f: &Fixture, email: &str, role: &str, org: Uuid) -> anyhow::Result<Uuid> {
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

pub async fn token_of(f: &Fixture, email: &str) -> anyhow::Result<String> {
    Ok(tokens::create(&f.db.pool, email, "test script")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .token)
}

pub async fn other_org(f: &Fixture) -> anyhow::Result<(Uuid, Uuid)> {
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

pub async fn count(f: &Fixture, from_where: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(&format!("SELECT count(*) FROM {from_where}"))
            .fetch_one(&f.db.pool)
            .await?,
    )
}
