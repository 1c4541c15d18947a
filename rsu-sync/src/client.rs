//! Signed HTTP requests to the server (DESIGN §6 "Request signing") and the mapping of every
//! answer to either a body or a [`SyncError`]. Each response's `X-Server-Time` updates the
//! device's clock offset, so the next signature is inside the server's ±300 s window.

use chrono::{DateTime, Utc};
use rsu_core::wire::{self, DeviceKey, ErrorBody, ErrorCode};
use std::time::Duration;
use uuid::Uuid;

use crate::{crash, SyncError};

/// A completed 2xx answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The signing HTTP client of one enrolled device.
pub struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
    key: DeviceKey,
    rsu_id: Uuid,
    key_id: Uuid,
    timeout: Duration,
    /// Server time minus device time, in milliseconds, as last measured.
    offset_ms: i64,
    /// Set when a response carried a new offset that the caller has not persisted yet.
    offset_changed: bool,
    /// `X-Rsu-Batch-Max` of the last journal push answer: the most entries the server wants in
    /// the next push (None when the answer had none, e.g. an older server).
    batch_max: Option<usize>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("rsu_id", &self.rsu_id)
            .finish()
    }
}

/// A reqwest client with the daemon's timeouts. No system proxy for loopback servers.
pub fn http_client(
    base: &reqwest::Url,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, SyncError> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(2)
        .user_agent(concat!("rsu-syncd/", env!("CARGO_PKG_VERSION")));
    let loopback = matches!(
        base.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    if loopback {
        b = b.no_proxy();
    }
    b.build()
        .map_err(|e| SyncError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Parses and checks a server base URL.
pub fn parse_base(url: &str) -> Result<reqwest::Url, SyncError> {
    let u = reqwest::Url::parse(url.trim()).map_err(|e| {
        SyncError::Config(format!(
            "the server URL {url:?} is not valid ({e}): use e.g. https://raffle.example.org"
        ))
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(SyncError::Config(format!(
            "the server URL {url:?} must start with https:// (or http:// on a test network)"
        )));
    }
    Ok(u)
}

/// Joins a base URL (possibly with a path prefix) and an API path.
pub fn join(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, SyncError> {
    let mut u = base.clone();
    let prefix = base.path().trim_end_matches('/');
    u.set_path(&format!("{prefix}{path}"));
    u.set_query(None);
    Ok(u)
}

/// Maps a reqwest error to transport or timeout (both mean "unknown": retry the same bytes).
pub fn transport_error(url: &reqwest::Url, timeout: Duration, e: &reqwest::Error) -> SyncError {
    if e.is_timeout() {
        return SyncError::Timeout {
            url: url.to_string(),
            secs: timeout.as_secs().max(1),
        };
    }
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    SyncError::Transport {
        url: url.to_string(),
        detail,
    }
}

/// Maps a non-2xx answer to its error.
pub fn status_error(status: u16, body: &[u8]) -> SyncError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message, server_time, expected) = match parsed {
        Some(b) => (b.error, b.message, b.server_time, b.expected_seq),
        None => (
            format!("http_{status}"),
            String::from_utf8_lossy(body).chars().take(200).collect(),
            None,
            None,
        ),
    };
    match status {
        401 => SyncError::Unauthorized {
            code,
            message,
            server_time,
        },
        409 if ErrorCode::Gap.is(&code) => match expected {
            Some(expected) => SyncError::Gap { expected },
            None => SyncError::BadAnswer("a 409 gap without expectedSeq".into()),
        },
        413 => SyncError::TooLarge,
        429 => SyncError::RateLimited { code },
        500..=599 => SyncError::Server {
            status,
            code,
            message,
        },
        _ => SyncError::Refused {
            status,
            code,
            message,
        },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not sent by this server and is ignored).
fn parse_retry_after(h: &reqwest::header::HeaderMap) -> Option<u64> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `X-Rsu-Batch-Max`: 1 to the protocol's 1,000 entries; anything else is ignored.
fn parse_batch_max(h: &reqwest::header::HeaderMap) -> Option<usize> {
    let n: usize = h
        .get(wire::HEADER_BATCH_MAX)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (1..=wire::MAX_BATCH_ENTRIES).contains(&n).then_some(n)
}

/// A 503 or 429 that says when to come back becomes [`SyncError::Busy`] (at most 10 minutes).
pub fn with_retry_after(err: SyncError, status: u16, retry_after: Option<u64>) -> SyncError {
    match (status, retry_after) {
        (503 | 429, Some(secs)) => {
            let code = match &err {
                SyncError::Server { code, .. } | SyncError::RateLimited { code } => code.clone(),
                other => other.code().to_string(),
            };
            SyncError::Busy {
                code,
                retry_after_secs: secs.min(600),
            }
        }
        _ => err,
    }
}

fn parse_server_time(h: &reqwest::header::HeaderMap) -> Option<DateTime<Utc>> {
    let v = h.get(wire::HEADER_SERVER_TIME)?.to_str().ok()?;
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Client {
    pub fn new(
        http: reqwest::Client,
        base: reqwest::Url,
        key: DeviceKey,
        rsu_id: Uuid,
        key_id: Uuid,
        timeout: Duration,
        offset_ms: i64,
    ) -> Client {
        Client {
            http,
            base,
            key,
            rsu_id,
            key_id,
            timeout,
            offset_ms,
            offset_changed: false,
            batch_max: None,
        }
    }

    /// Signs from now on with `key` (a rotation registered it as `key_id`).
    pub fn set_key(&mut self, key: DeviceKey, key_id: Uuid) {
        self.key = key;
        self.key_id = key_id;
    }

    pub fn key_id(&self) -> Uuid {
        self.key_id
    }

    pub fn base(&self) -> &reqwest::Url {
        &self.base
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// The most entries the server asked for in the next push (`X-Rsu-Batch-Max` of the last
    /// push answer), if it said.
    pub fn batch_max(&self) -> Option<usize> {
        self.batch_max
    }

    /// The new offset if it changed since the last call (then it is persisted by the caller).
    pub fn take_offset_change(&mut self) -> Option<i64> {
        std::mem::take(&mut self.offset_changed).then_some(self.offset_ms)
    }

    /// Sets the offset from a server time observed around `[sent, received]` (device clock).
    pub fn observe_server_time(
        &mut self,
        server: DateTime<Utc>,
        sent: DateTime<Utc>,
        received: DateTime<Utc>,
    ) {
        let mid = sent + (received - sent) / 2;
        let offset = (server - mid).num_milliseconds();
        // Millisecond jitter is not worth a database write; a real change is.
        if (offset - self.offset_ms).abs() >= 250 {
            self.offset_ms = offset;
            self.offset_changed = true;
        }
    }

    /// The device clock corrected by the offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms)
    }

    /// Sends one signed request and returns the 2xx body, or the error the answer means.
    /// `crash_after_send` names a crash point between the answer's head and its body.
    pub async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        crash_after_send: Option<&str>,
    ) -> Result<Answer, SyncError> {
        let url = join(&self.base, path)?;
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let headers = wire::sign_request(
            &self.key,
            self.rsu_id,
            self.key_id,
            method.as_str(),
            &path_and_query,
            &body,
            self.now().timestamp(),
        )
        .map_err(|e| SyncError::Key(e.to_string()))?;
        let mut req = self
            .http
            .request(method, url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers.pairs() {
            req = req.header(k, v);
        }
        let sent = Utc::now();
        let res = req
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&url, self.timeout, &e))?;
        if let Some(name) = crash_after_send {
            crash::point(name);
        }
        let status = res.status().as_u16();
        let server_time = parse_server_time(res.headers());
        let retry_after = parse_retry_after(res.headers());
        if path == wire::PATH_JOURNAL {
            self.batch_max = parse_batch_max(res.headers());
        }
        let bytes = res
            .bytes()
            .await
            .map_err(|e| transport_error(&url, self.timeout, &e))?;
        let received = Utc::now();
        if let Some(t) = server_time {
            self.observe_server_time(t, sent, received);
        }
        if (200..300).contains(&status) {
            return Ok(Answer {
                status,
                body: bytes.to_vec(),
            });
        }
        let err = with_retry_after(status_error(status, &bytes), status, retry_after);
        if let SyncError::Unauthorized {
            server_time: Some(t),
            ..
        } = &err
        {
            self.observe_server_time(*t, sent, received);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_max_outside_the_protocol_is_ignored() {
        let of = |v: &str| {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(wire::HEADER_BATCH_MAX, v.parse().expect("header value"));
            parse_batch_max(&h)
        };
        assert_eq!(of("250"), Some(250));
        assert_eq!(of(" 1000 "), Some(1000));
        assert_eq!(of("0"), None);
        assert_eq!(of("1001"), None);
        assert_eq!(of("lots"), None);
        assert_eq!(parse_batch_max(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn error_answers_map_to_what_the_protocol_says_they_mean() {
        let body = |code: &str, extra: &str| {
            format!(r#"{{"error":"{code}","message":"m"{extra}}}"#).into_bytes()
        };
        let table: Vec<(u16, Vec<u8>, &str, bool)> = vec![
            (500, body("internal", ""), "server_error", true),
            (
                503,
                b"<html>bad gateway</html>".to_vec(),
                "server_error",
                true,
            ),
            (429, body("slow_down", ""), "rate_limited", true),
            (413, body("batch_too_large", ""), "too_large", true),
            (409, body("gap", r#","expectedSeq":7"#), "gap", true),
            (409, body("unknown_epoch", ""), "refused", false),
            (400, body("invalid_field", ""), "refused", false),
            (
                401,
                body("clock_skew", r#","serverTime":"2026-01-01T00:00:00.000Z""#),
                "unauthorized",
                true,
            ),
            (401, body("unknown_key", ""), "unauthorized", false),
        ];
        for (status, b, code, transient) in table {
            let e = status_error(status, &b);
            assert_eq!(e.code(), code, "{status} {e}");
            assert_eq!(e.is_transient(), transient, "{status} {e}");
        }
        match status_error(409, &body("gap", r#","expectedSeq":7"#)) {
            SyncError::Gap { expected } => assert_eq!(expected, 7),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn the_offset_follows_the_server_clock_and_ignores_jitter() {
        let key = DeviceKey::generate().unwrap();
        let base = parse_base("http://127.0.0.1:9").unwrap();
        let http = http_client(&base, Duration::from_secs(1), Duration::from_secs(1)).unwrap();
        let mut c = Client::new(
            http,
            base,
            key,
            Uuid::nil(),
            Uuid::nil(),
            Duration::from_secs(1),
            0,
        );
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::milliseconds(100);
        c.observe_server_time(t0 + chrono::Duration::seconds(600), t0, t1);
        assert_eq!(c.take_offset_change(), Some(599_950));
        assert_eq!(c.take_offset_change(), None);
        c.observe_server_time(t0 + chrono::Duration::milliseconds(600_100), t0, t1);
        assert_eq!(
            c.take_offset_change(),
            None,
            "100 ms of jitter is not a change"
        );
    }

    #[test]
    fn urls_keep_a_path_prefix() {
        let b = parse_base("https://x.example/rsu/").unwrap();
        assert_eq!(
            join(&b, wire::PATH_JOURNAL).unwrap().as_str(),
            "https://x.example/rsu/v1/rsu/journal"
        );
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("not a url").is_err());
    }
}
