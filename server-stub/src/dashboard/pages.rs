//! The dashboard's pages (GET): each loads what it shows with `data`, turns it into lines of
//! text for its template, and renders. Permission: `report.view` in the event's organization
//! (the events list shows only the user's organizations).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use rsu_core::event::EventState;
use serde::Deserialize;
use uuid::Uuid;

use super::data::{self, DeviceRow, EventRow, ExceptionRow, WinnerRow};
use super::format::{age_text, money_text, secs_since, short_hex, time_text};
use super::{chart, event_for, render, Chrome, EventNav, PageResult};
use crate::accounts::session::WebSession;
use crate::accounts::Permission;
use crate::state::AppState;

/// Seconds between live refreshes of the live pages.
const REFRESH_SECS: u32 = 10;
/// A heartbeat older than this is highlighted (twice the default sync interval).
pub const STALE_HEARTBEAT_MINUTES: i64 = 10;
/// A clock further off than this is highlighted (requests over 300 s off are refused).
pub const CLOCK_WARN_SECS: i64 = 60;
/// Fewer numbers left than this in an RSU's allocations is highlighted.
const LOW_ALLOCATION: i64 = 20;

/// `?done=…` after a form's redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn notice(done: &Done, ev: &EventRow) -> Option<String> {
    match done.done.as_deref()? {
        "resolved" => {
            Some("The exception was resolved; it is listed under Resolved with your note.".into())
        }
        "moved" => Some(format!("The event is now {}.", ev.state)),
        "drawn" => Some("The draw ran: the winners are below and the event is completed.".into()),
        _ => None,
    }
}

fn chrome_for(
    session: &WebSession,
    ev: &EventRow,
    title: &str,
    active: &'static str,
    done: &Done,
) -> Chrome {
    let mut c = Chrome::new(session, format!("{title} · {}", ev.name), active);
    c.event = Some(EventNav {
        id: ev.id,
        name: ev.name.clone(),
        identifier: ev.event_identifier.clone(),
        state: ev.state.clone(),
    });
    c.notice = notice(done, ev);
    c
}

// ----------------------------------------------------------------------------------------------
// Events
// ----------------------------------------------------------------------------------------------

struct EventLine {
    id: Uuid,
    name: String,
    identifier: String,
    organization: String,
    state: String,
    tickets_sold: i64,
    net: String,
    jackpot: String,
    commitment: Option<String>,
    commitment_short: String,
}

#[derive(Template)]
#[template(path = "dashboard/events.html")]
struct EventsPage {
    c: Chrome,
    rows: Vec<EventLine>,
}

pub async fn events(State(st): State<AppState>, session: WebSession) -> PageResult<Response> {
    session.principal.require_somewhere(Permission::View)?;
    let orgs = session.principal.organizations();
    let rows = data::events(&st.pool, orgs.as_deref()).await?;
    let rows = rows
        .into_iter()
        .filter(|r| {
            session
                .principal
                .can(Permission::View, r.event.organization_id)
        })
        .map(|r| {
            let net = r.sales.net();
            let e = r.event;
            EventLine {
                jackpot: data::jackpot(&e.configuration, &e.currency, net)
                    .map_or_else(|| "—".into(), |j| money_text(j, &e.currency)),
                net: money_text(net, &e.currency),
                tickets_sold: r.sales.tickets_sold(),
                commitment_short: r.commitment.as_deref().map(short_hex).unwrap_or_default(),
                commitment: r.commitment,
                id: e.id,
                name: e.name,
                identifier: e.event_identifier,
                organization: e.organization_name,
                state: e.state,
            }
        })
        .collect();
    let mut c = Chrome::new(&session, "Events", "events");
    c.refresh_secs = REFRESH_SECS;
    render(&EventsPage { c, rows })
}

// ----------------------------------------------------------------------------------------------
// One event: totals and the chart
// ----------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "dashboard/event.html")]
struct EventPage {
    c: Chrome,
    name: String,
    state: String,
    tickets_sold: i64,
    orders: i64,
    voided_orders: i64,
    net: String,
    jackpot: String,
    sales_start: String,
    sales_end: String,
    draw_time: String,
    commitment: Option<String>,
    chart: Option<String>,
    window: i64,
    minutes: Vec<(String, i64, i64)>,
}

pub async fn event(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let sales = data::sales(&st.pool, ev.id).await?;
    let per_minute = data::sales_per_minute(&st.pool, ev.id).await?;
    let points: Vec<_> = per_minute.iter().map(|(m, t, _)| (*m, *t)).collect();
    let chart =
        chart::sales_per_minute(&points, &format!("Tickets sold per minute at {}", ev.name));
    let minutes = per_minute
        .iter()
        .rev()
        .take(15)
        .map(|(m, t, o)| (m.format("%Y-%m-%d %H:%M").to_string(), *t, *o))
        .collect();
    let mut c = chrome_for(&session, &ev, "Overview", "overview", &done);
    c.refresh_secs = REFRESH_SECS;
    let page = EventPage {
        c,
        name: ev.name.clone(),
        state: ev.state.clone(),
        tickets_sold: sales.tickets_sold(),
        orders: sales.orders,
        voided_orders: sales.voided_orders,
        net: money_text(sales.net(), &ev.currency),
        jackpot: data::jackpot(&ev.configuration, &ev.currency, sales.net())
            .map_or_else(|| "no jackpot rule".into(), |j| money_text(j, &ev.currency)),
        sales_start: time_text(&ev.sales_start_time),
        sales_end: time_text(&ev.sales_end_time),
        draw_time: time_text(&ev.draw_time),
        commitment: data::commitment(&st.pool, ev.id).await?,
        chart,
        window: chart::WINDOW_MINUTES,
        minutes,
    };
    render(&page)
}

// ----------------------------------------------------------------------------------------------
// Devices
// ----------------------------------------------------------------------------------------------

/// One RSU's row, as text, with what needs attention flagged.
pub struct DeviceLine {
    rsu_no: i32,
    name: String,
    rsu_state: String,
    /// `synced`, `pending`, or `never synced`.
    sync: String,
    chain_ok: bool,
    heartbeat: String,
    heartbeat_stale: bool,
    pending_entries: i64,
    oldest_pending: String,
    printer: String,
    printer_warn: bool,
    app_version: String,
    app_hash: String,
    app_hash_short: String,
    hash_warn: bool,
    clock: String,
    clock_warn: bool,
    sold: i64,
    left: i64,
    left_low: bool,
    flagged: bool,
}

/// What the devices page says about one RSU (a pure function of its row and the time).
pub fn device_line(d: DeviceRow, now: chrono::DateTime<Utc>) -> DeviceLine {
    let heartbeat_age = d.last_heartbeat_at.map(|t| secs_since(t, now));
    let heartbeat_stale = heartbeat_age.is_none_or(|a| a > STALE_HEARTBEAT_MINUTES * 60);
    let pending_entries = match (d.reported_last_seq, d.last_seq) {
        (Some(reported), Some(have)) => (reported - have).max(0),
        _ => 0,
    };
    let sync = if d.last_push_at.is_none() && d.last_heartbeat_at.is_none() {
        "never synced"
    } else if pending_entries > 0 {
        "pending"
    } else {
        "synced"
    };
    let printer = d.printer_status.clone().unwrap_or_else(|| "unknown".into());
    let printer_warn = !matches!(printer.as_str(), "ok" | "unknown");
    let hash = d.app_hash.clone().unwrap_or_default();
    let hash_warn = d.app_hash.is_some() && !d.hash_approved;
    let clock_warn = d
        .clock_offset_secs
        .is_some_and(|o| i64::from(o).abs() > CLOCK_WARN_SECS);
    let chain_ok = d.chain_verified.unwrap_or(true);
    let left_low = d.allocation_left < LOW_ALLOCATION && d.rsu_state == "active";
    DeviceLine {
        rsu_no: d.rsu_no,
        name: d.name,
        flagged: heartbeat_stale || printer_warn || hash_warn || clock_warn || !chain_ok,
        rsu_state: d.rsu_state,
        sync: sync.into(),
        chain_ok,
        heartbeat: heartbeat_age.map_or_else(|| "never".into(), |a| format!("{} ago", age_text(a))),
        heartbeat_stale,
        pending_entries,
        oldest_pending: match d.oldest_pending_age_secs {
            Some(a) if pending_entries > 0 => age_text(a),
            _ => "—".into(),
        },
        printer,
        printer_warn,
        app_version: d.app_version.unwrap_or_else(|| "—".into()),
        app_hash_short: short_hex(&hash),
        app_hash: hash,
        hash_warn,
        clock: d.clock_offset_secs.map_or_else(
            || "—".into(),
            |o| match o {
                0 => "in step".into(),
                o if o > 0 => format!("{o} s ahead"),
                o => format!("{} s behind", -o),
            },
        ),
        clock_warn,
        sold: d.sold,
        left: d.allocation_left,
        left_low,
    }
}

#[derive(Template)]
#[template(path = "dashboard/devices.html")]
struct DevicesPage {
    c: Chrome,
    rows: Vec<DeviceLine>,
    synced: usize,
    pending: usize,
    flagged: usize,
    stale_minutes: i64,
    clock_warn_secs: i64,
}

pub async fn devices(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let now = Utc::now();
    let rows: Vec<DeviceLine> = data::devices(&st.pool, ev.id)
        .await?
        .into_iter()
        .map(|d| device_line(d, now))
        .collect();
    let mut c = chrome_for(&session, &ev, "Devices", "devices", &done);
    c.refresh_secs = REFRESH_SECS;
    render(&DevicesPage {
        synced: rows.iter().filter(|r| r.sync == "synced").count(),
        pending: rows.iter().filter(|r| r.sync != "synced").count(),
        flagged: rows.iter().filter(|r| r.flagged).count(),
        rows,
        c,
        stale_minutes: STALE_HEARTBEAT_MINUTES,
        clock_warn_secs: CLOCK_WARN_SECS,
    })
}

// ----------------------------------------------------------------------------------------------
// Exceptions
// ----------------------------------------------------------------------------------------------

struct ExceptionLine {
    source: String,
    id: Uuid,
    rsu_no: i32,
    rsu_name: String,
    epoch: i32,
    seq: i64,
    kind: String,
    status: String,
    reason_code: String,
    reason_message: String,
    received_at: String,
    resolved_at: String,
    resolved_by: String,
    note: String,
}

fn exception_line(x: ExceptionRow) -> ExceptionLine {
    ExceptionLine {
        source: x.source,
        id: x.id,
        rsu_no: x.rsu_no,
        rsu_name: x.rsu_name,
        epoch: x.epoch,
        seq: x.seq,
        kind: x.kind.unwrap_or_else(|| "second version".into()),
        status: x.status,
        reason_code: x.reason_code.unwrap_or_default(),
        reason_message: x.reason_message.unwrap_or_default(),
        received_at: time_text(&x.received_at),
        resolved_at: x.resolved_at.as_ref().map(time_text).unwrap_or_default(),
        resolved_by: x.resolved_by.unwrap_or_default(),
        note: x.resolution_note.unwrap_or_default(),
    }
}

struct ChainLine {
    rsu_no: i32,
    rsu_name: String,
    epoch: i32,
    first_bad: String,
}

struct LateLine {
    validation_number: String,
    rsu: String,
    sold_at: String,
    received_at: String,
    tickets: i32,
    amount: String,
}

#[derive(Template)]
#[template(path = "dashboard/exceptions.html")]
struct ExceptionsPage {
    c: Chrome,
    event_id: Uuid,
    can_resolve: bool,
    open: Vec<ExceptionLine>,
    resolved: Vec<ExceptionLine>,
    chain_breaks: Vec<ChainLine>,
    late: Vec<LateLine>,
}

pub async fn exceptions(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let (open, resolved): (Vec<_>, Vec<_>) = data::exceptions(&st.pool, ev.id)
        .await?
        .into_iter()
        .partition(|x| x.resolved_at.is_none());
    let chain_breaks = data::chain_breaks(&st.pool, ev.id)
        .await?
        .into_iter()
        .map(|b| ChainLine {
            rsu_no: b.rsu_no,
            rsu_name: b.rsu_name,
            epoch: b.epoch,
            first_bad: b
                .chain_broken_at
                .map_or_else(|| "—".into(), |s| s.to_string()),
        })
        .collect();
    let late = data::late_sales(&st.pool, ev.id)
        .await?
        .into_iter()
        .map(|l| LateLine {
            validation_number: l.validation_number,
            rsu: l
                .rsu_no
                .map_or_else(|| "online".into(), |n| format!("RSU {n}")),
            sold_at: time_text(&l.sold_at),
            received_at: l.received_at.as_ref().map(time_text).unwrap_or_default(),
            tickets: l.ticket_count,
            amount: money_text(l.total_amount, &ev.currency),
        })
        .collect();
    let mut c = chrome_for(&session, &ev, "Exceptions", "exceptions", &done);
    c.refresh_secs = REFRESH_SECS;
    render(&ExceptionsPage {
        c,
        event_id: ev.id,
        can_resolve: session
            .principal
            .can(Permission::ExceptionResolve, ev.organization_id),
        open: open.into_iter().map(exception_line).collect(),
        resolved: resolved.into_iter().map(exception_line).collect(),
        chain_breaks,
        late,
    })
}

// ----------------------------------------------------------------------------------------------
// Report and gate
// ----------------------------------------------------------------------------------------------

struct RsuLine {
    rsu_no: i32,
    name: String,
    status: String,
    allocated: i64,
    sold: i64,
    voided: i64,
    released: i64,
    unaccounted: i64,
    net: String,
}

#[derive(Template)]
#[template(path = "dashboard/report.html")]
struct ReportPage {
    c: Chrome,
    event_id: Uuid,
    state: String,
    status: String,
    rsus_reconciled: i64,
    rsus_pending: i64,
    rsus_excluded: i64,
    allocated: i64,
    sold: i64,
    voided: i64,
    released: i64,
    unaccounted: i64,
    net: String,
    jackpot: String,
    open_exceptions: i64,
    late_sales: i64,
    /// (RSU number, name, every reason joined).
    blocking: Vec<(i32, String, String)>,
    /// (state, button text) of every state the event may move to.
    transitions: Vec<(String, String)>,
    can_move: bool,
    rsus: Vec<RsuLine>,
    generated_at: String,
}

/// The button text for moving to `to`.
fn transition_label(to: EventState) -> String {
    match to {
        EventState::Cancelled => "Cancel the event".into(),
        EventState::Reconciled => "Confirm reconciliation (reconciled)".into(),
        EventState::DrawingReady => "Ready for the draw (drawing_ready)".into(),
        other => format!("Move to {other}"),
    }
}

pub async fn report(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let rep = crate::report::event_report(&st.pool, ev.id).await?;
    let from = EventState::parse(&ev.state);
    let transitions = EventState::ALL
        .into_iter()
        .filter(|to| from.is_some_and(|f| f.can_transition_to(*to)))
        // The draw completes the event itself.
        .filter(|to| *to != EventState::Completed)
        .map(|to| (to.as_str().to_string(), transition_label(to)))
        .collect();
    let t = &rep.totals;
    let page = ReportPage {
        c: chrome_for(&session, &ev, "Report and gate", "report", &done),
        event_id: ev.id,
        state: ev.state.clone(),
        status: rep.status.clone(),
        rsus_reconciled: t.rsus_reconciled,
        rsus_pending: t.rsus_pending,
        rsus_excluded: t.rsus_excluded,
        allocated: t.numbers.allocated,
        sold: t.numbers.sold,
        voided: t.numbers.voided,
        released: t.numbers.released,
        unaccounted: t.numbers.unaccounted,
        net: money_text(t.amounts.all.net, &ev.currency),
        jackpot: rep.jackpot.as_ref().map_or_else(
            || "no jackpot rule".into(),
            |j| money_text(j.amount, &ev.currency),
        ),
        open_exceptions: t.open_exceptions,
        late_sales: t.late_sales,
        blocking: rep
            .blocking
            .iter()
            .map(|b| {
                let why: Vec<&str> = b.reasons.iter().map(|r| r.message.as_str()).collect();
                (b.rsu_no, b.rsu_name.clone(), why.join("; "))
            })
            .collect(),
        transitions,
        can_move: session
            .principal
            .can(Permission::EventManage, ev.organization_id),
        rsus: rep
            .rsus
            .iter()
            .map(|r| RsuLine {
                rsu_no: r.rsu_no,
                name: r.name.clone(),
                status: r.status.clone(),
                allocated: r.numbers.allocated,
                sold: r.numbers.sold,
                voided: r.numbers.voided,
                released: r.numbers.released,
                unaccounted: r.numbers.unaccounted,
                net: money_text(r.amounts.all.net, &ev.currency),
            })
            .collect(),
        generated_at: time_text(&rep.generated_at),
    };
    render(&page)
}

// ----------------------------------------------------------------------------------------------
// Draw and claims
// ----------------------------------------------------------------------------------------------

pub struct WinnerLine {
    prize: String,
    place: String,
    number: i32,
    value: String,
    claim: String,
    redraw: bool,
}

pub fn winner_lines(rows: Vec<WinnerRow>, currency: &str) -> Vec<WinnerLine> {
    rows.into_iter()
        .map(|w| WinnerLine {
            place: match w.winner_index {
                Some(i) => format!("{} · winner {i}", w.position),
                None => w.position.to_string(),
            },
            claim: match (&w.claimed_at, w.superseded) {
                (Some(at), _) => format!(
                    "claimed {} by {}{}",
                    time_text(at),
                    w.claimed_by.as_deref().unwrap_or("(unknown)"),
                    w.validation_number
                        .as_deref()
                        .map(|v| format!(" ({v})"))
                        .unwrap_or_default()
                ),
                (None, true) => "unclaimed: redrawn".into(),
                (None, false) => "not claimed yet".into(),
            },
            redraw: w.kind == "redraw",
            prize: w.prize,
            number: w.winning_number,
            value: money_text(w.value, currency),
        })
        .collect()
}

struct DrawnLine {
    at: String,
    by: String,
    tickets: i64,
    net: String,
    beacon: String,
}

#[derive(Template)]
#[template(path = "dashboard/draw.html")]
struct DrawPage {
    c: Chrome,
    event_id: Uuid,
    state: String,
    commitment: Option<String>,
    drawn: Option<DrawnLine>,
    ready: bool,
    can_run: bool,
    winners: Vec<WinnerLine>,
}

pub async fn draw(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    let drawn = data::draw(&st.pool, ev.id).await?.map(|d| DrawnLine {
        at: time_text(&d.started_at),
        by: d.conducted_by.unwrap_or_else(|| "(unknown)".into()),
        tickets: d.ticket_count.unwrap_or(0),
        net: money_text(d.net_sales.unwrap_or(0), &ev.currency),
        beacon: d.beacon.unwrap_or_else(|| "none".into()),
    });
    let winners = winner_lines(data::winners(&st.pool, ev.id).await?, &ev.currency);
    render(&DrawPage {
        c: chrome_for(&session, &ev, "Draw", "draw", &done),
        event_id: ev.id,
        ready: ev.state == EventState::DrawingReady.as_str(),
        can_run: session
            .principal
            .can(Permission::DrawRun, ev.organization_id),
        state: ev.state.clone(),
        commitment: data::commitment(&st.pool, ev.id).await?,
        drawn,
        winners,
    })
}

#[derive(Template)]
#[template(path = "dashboard/claims.html")]
pub struct ClaimsPage {
    c: Chrome,
    event_id: Uuid,
    can_claim: bool,
    /// After a claim: (validation number, one line per prize, the deadline check).
    result: Option<(String, Vec<String>, String)>,
    winners: Vec<WinnerLine>,
}

/// The claims page, with the outcome of a claim just recorded.
pub async fn claims_page(
    st: &AppState,
    session: &WebSession,
    ev: &EventRow,
    result: Option<(String, Vec<String>, String)>,
) -> PageResult<Response> {
    let winners = winner_lines(data::winners(&st.pool, ev.id).await?, &ev.currency);
    render(&ClaimsPage {
        c: chrome_for(session, ev, "Claims", "claims", &Done::default()),
        event_id: ev.id,
        can_claim: session
            .principal
            .can(Permission::ClaimVerify, ev.organization_id),
        result,
        winners,
    })
}

pub async fn claims(
    State(st): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let ev = event_for(&st, &session, &id, Permission::View).await?;
    claims_page(&st, &session, &ev, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> DeviceRow {
        DeviceRow {
            rsu_id: Uuid::nil(),
            rsu_no: 1,
            name: "Gate 1".into(),
            rsu_state: "active".into(),
            epoch: Some(1),
            last_seq: Some(5),
            reported_last_seq: Some(5),
            pending_count: Some(0),
            oldest_pending_age_secs: None,
            printer_status: Some("ok".into()),
            app_version: Some("1.0".into()),
            app_hash: Some("ab".repeat(32)),
            hash_approved: true,
            clock_offset_secs: Some(2),
            chain_verified: Some(true),
            last_heartbeat_at: Some(Utc::now()),
            last_push_at: Some(Utc::now()),
            allocation_left: 80,
            allocated: 100,
            sold: 20,
        }
    }

    #[test]
    fn a_healthy_device_is_synced_and_not_flagged() {
        let l = device_line(row(), Utc::now());
        assert_eq!(l.sync, "synced");
        assert!(!l.flagged);
        assert_eq!(l.clock, "2 s ahead");
    }

    #[test]
    fn a_device_that_reported_more_than_the_server_has_is_pending() {
        let mut r = row();
        r.reported_last_seq = Some(9);
        r.oldest_pending_age_secs = Some(125);
        let l = device_line(r, Utc::now());
        assert_eq!((l.sync.as_str(), l.pending_entries), ("pending", 4));
        assert_eq!(l.oldest_pending, "2 min");
    }

    #[test]
    fn paper_out_unapproved_builds_stale_heartbeats_and_far_clocks_are_flagged() {
        let flagged = |f: &dyn Fn(&mut DeviceRow)| {
            let mut r = row();
            f(&mut r);
            device_line(r, Utc::now()).flagged
        };
        assert!(flagged(&|r| r.printer_status = Some("paper_out".into())));
        assert!(flagged(&|r| r.hash_approved = false));
        assert!(flagged(&|r| {
            r.last_heartbeat_at = Some(Utc::now() - chrono::Duration::minutes(11))
        }));
        assert!(flagged(&|r| r.clock_offset_secs = Some(-61)));
        assert!(flagged(&|r| r.chain_verified = Some(false)));
        assert!(!flagged(&|r| r.printer_status = Some("unknown".into())));
    }
}
