//! The `admin list` and `admin show` commands: their clap shape, and their answers as JSON (the
//! documented shape, docs/server.md "Admin CLI answers") or as tables for people
//! (`--format table`, 100 columns wide).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::list::{self, Filter, Kind};
use super::show;
use super::table::{ago, fields, money, opt, time, Table};
use crate::error::AppResult;

#[derive(Debug, clap::Subcommand)]
pub enum BrowseCmd {
    /// List organizations, events, packages, operators, rsus or allocations, e.g.
    /// `list events --organization-id ORG`, `list rsus --event-id EV --format table`.
    List(ListArgs),
    /// One organization, event, package, operator, rsu or allocation with its details, e.g.
    /// `show rsu --id RSU` (keys, epochs, last heartbeat, pending entries, offline limits).
    Show(ShowArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ListKind {
    #[value(alias = "organization")]
    Organizations,
    #[value(alias = "event")]
    Events,
    #[value(alias = "package")]
    Packages,
    #[value(alias = "operator")]
    Operators,
    #[value(alias = "rsu")]
    Rsus,
    #[value(alias = "allocation")]
    Allocations,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ShowKind {
    #[value(alias = "organizations")]
    Organization,
    #[value(alias = "events")]
    Event,
    #[value(alias = "packages")]
    Package,
    #[value(alias = "operators")]
    Operator,
    #[value(alias = "rsus")]
    Rsu,
    #[value(alias = "allocations")]
    Allocation,
}

impl From<ListKind> for Kind {
    fn from(k: ListKind) -> Kind {
        match k {
            ListKind::Organizations => Kind::Organization,
            ListKind::Events => Kind::Event,
            ListKind::Packages => Kind::Package,
            ListKind::Operators => Kind::Operator,
            ListKind::Rsus => Kind::Rsu,
            ListKind::Allocations => Kind::Allocation,
        }
    }
}

impl From<ShowKind> for Kind {
    fn from(k: ShowKind) -> Kind {
        match k {
            ShowKind::Organization => Kind::Organization,
            ShowKind::Event => Kind::Event,
            ShowKind::Package => Kind::Package,
            ShowKind::Operator => Kind::Operator,
            ShowKind::Rsu => Kind::Rsu,
            ShowKind::Allocation => Kind::Allocation,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The documented JSON shape (for scripts).
    #[default]
    Json,
    /// Aligned columns for people, 100 columns wide.
    Table,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// What to list.
    pub kind: ListKind,
    /// Events, packages, operators, rsus, allocations of this organization.
    #[arg(long)]
    pub organization_id: Option<Uuid>,
    /// Packages and allocations of this event; rsus holding an allocation in it.
    #[arg(long)]
    pub event_id: Option<Uuid>,
    /// Allocations of this RSU.
    #[arg(long)]
    pub rsu_id: Option<Uuid>,
    /// Events or rsus in this state (e.g. active, sales_closed; registered, lost).
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// What to show.
    pub kind: ShowKind,
    #[arg(long)]
    pub id: Uuid,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Runs `list` or `show`. JSON is returned for the caller to print; a table is printed here.
pub async fn run(pool: &PgPool, cmd: BrowseCmd) -> AppResult<Option<Value>> {
    let (text, json) = match cmd {
        BrowseCmd::List(a) => {
            let kind = Kind::from(a.kind);
            let f = Filter {
                id: None,
                organization_id: a.organization_id,
                event_id: a.event_id,
                rsu_id: a.rsu_id,
                state: a.state,
            };
            f.check(pool, kind).await?;
            let table = a.format == Format::Table;
            let (text, rows) = match kind {
                Kind::Organization => out(
                    &list::organizations(pool, &f).await?[..],
                    table,
                    organizations,
                )?,
                Kind::Event => out(&list::events(pool, &f).await?[..], table, events)?,
                Kind::Package => out(&list::packages(pool, &f).await?[..], table, packages)?,
                Kind::Operator => out(&list::operators(pool, &f).await?[..], table, operators)?,
                Kind::Rsu => out(&list::rsus(pool, &f).await?[..], table, rsus)?,
                Kind::Allocation => {
                    out(&list::allocations(pool, &f).await?[..], table, allocations)?
                }
            };
            (text, rows.map(|r| json!({ kind.plural(): r })))
        }
        BrowseCmd::Show(a) => {
            let table = a.format == Format::Table;
            let id = a.id;
            match Kind::from(a.kind) {
                Kind::Organization => {
                    out(&show::organization(pool, id).await?, table, organization)?
                }
                Kind::Event => out(&show::event(pool, id).await?, table, event)?,
                Kind::Package => out(&show::package(pool, id).await?, table, package)?,
                Kind::Operator => out(&show::operator(pool, id).await?, table, operator)?,
                Kind::Rsu => out(&show::rsu(pool, id).await?, table, rsu)?,
                Kind::Allocation => out(&show::allocation(pool, id).await?, table, allocation)?,
            }
        }
    };
    if let Some(t) = text {
        print!("{t}");
    }
    Ok(json)
}

type Out = (Option<String>, Option<Value>);

fn out<T: Serialize + ?Sized>(
    v: &T,
    table: bool,
    render: fn(&T, DateTime<Utc>) -> String,
) -> AppResult<Out> {
    if table {
        Ok((Some(render(v, Utc::now())), None))
    } else {
        Ok((None, Some(show::to_json(&v)?)))
    }
}

fn yes(b: bool) -> String {
    String::from(if b { "yes" } else { "no" })
}

// ---------------------------------------------------------------------------------------------
// Lists as tables
// ---------------------------------------------------------------------------------------------

fn organizations(rows: &[list::OrganizationRow], _: DateTime<Utc>) -> String {
    let mut t = Table::new(
        &[
            ("ORGANIZATION ID", false),
            ("NAME", false),
            ("CUR", false),
            ("PREFIX", false),
            ("EVENTS", true),
            ("RSUS", true),
            ("OPERATORS", true),
        ],
        1,
    );
    for r in rows {
        t.row(vec![
            r.organization_id.to_string(),
            r.name.clone(),
            r.currency.clone(),
            opt(r.validation_number_prefix.as_ref()),
            r.event_count.to_string(),
            r.rsu_count.to_string(),
            r.operator_count.to_string(),
        ]);
    }
    t.render()
}

/// No commitment column: the state says it (one exists from `sales_closed` on) and `show event`
/// prints it.
fn event_line(r: &list::EventRow) -> Vec<String> {
    vec![
        r.event_id.to_string(),
        format!("{} {}", r.event_identifier, r.name),
        r.state.clone(),
        r.tickets_sold.to_string(),
        money(r.net_sales, &r.currency),
    ]
}

const EVENT_COLUMNS: &[(&str, bool)] = &[
    ("EVENT ID", false),
    ("EVENT", false),
    ("STATE", false),
    ("SOLD", true),
    ("NET SALES", true),
];

fn events(rows: &[list::EventRow], _: DateTime<Utc>) -> String {
    let mut t = Table::new(EVENT_COLUMNS, 1);
    for r in rows {
        t.row(event_line(r));
    }
    t.render()
}

fn package_table(rows: &[list::PackageRow]) -> String {
    let mut t = Table::new(
        &[
            ("PACKAGE ID", false),
            ("NAME", false),
            ("TICKETS", true),
            ("PRICE", true),
            ("SOLD", true),
        ],
        1,
    );
    for r in rows {
        let name = if r.is_active {
            r.name.clone()
        } else {
            format!("{} (inactive)", r.name)
        };
        t.row(vec![
            r.package_id.to_string(),
            name,
            r.ticket_count.to_string(),
            money(r.price, &r.currency),
            r.sales_count.to_string(),
        ]);
    }
    t.render()
}

fn packages(rows: &[list::PackageRow], _: DateTime<Utc>) -> String {
    package_table(rows)
}

fn operators(rows: &[list::OperatorRow], _: DateTime<Utc>) -> String {
    let mut t = Table::new(
        &[
            ("OPERATOR ID", false),
            ("NAME", false),
            ("ROLE", false),
            ("ACTIVE", false),
            ("CREATED", false),
        ],
        1,
    );
    for r in rows {
        t.row(vec![
            r.operator_id.to_string(),
            r.name.clone(),
            r.role.clone(),
            yes(r.is_active),
            time(Some(r.created_at)),
        ]);
    }
    t.render()
}

fn rsus(rows: &[list::RsuRow], now: DateTime<Utc>) -> String {
    let mut t = Table::new(
        &[
            ("RSU ID", false),
            ("RSU", false),
            ("STATE", false),
            ("HEARTBEAT", false),
            ("PENDING", true),
            ("PRINTER", false),
            ("LEFT", true),
        ],
        1,
    );
    for r in rows {
        t.row(vec![
            r.rsu_id.to_string(),
            format!("{} {}", r.rsu_no, r.name),
            r.state.clone(),
            ago(r.last_heartbeat_at, now),
            opt(r.pending_count),
            opt(r.printer_status.as_ref()),
            r.numbers_left.to_string(),
        ]);
    }
    t.render()
}

fn allocation_table(rows: &[list::AllocationRow]) -> String {
    let mut t = Table::new(
        &[
            ("ALLOCATION ID", false),
            ("EVENT", false),
            ("RSU", true),
            ("RANGE", false),
            ("NEXT", true),
            ("LEFT", true),
            ("SOLD", true),
            ("STATE", false),
        ],
        1,
    );
    for r in rows {
        t.row(vec![
            r.allocation_id.to_string(),
            r.event_identifier.clone(),
            r.rsu_no.to_string(),
            format!("{}–{}", r.start_number, r.end_number),
            r.next_number.to_string(),
            r.numbers_left.to_string(),
            r.tickets_sold.to_string(),
            r.state.clone(),
        ]);
    }
    t.render()
}

fn allocations(rows: &[list::AllocationRow], _: DateTime<Utc>) -> String {
    allocation_table(rows)
}

// ---------------------------------------------------------------------------------------------
// One record as `field: value` lines, then its parts as tables
// ---------------------------------------------------------------------------------------------

fn section(out: &mut String, title: &str, body: String) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
    out.push_str(&body);
}

fn organization(d: &show::OrganizationDetail, _: DateTime<Utc>) -> String {
    let r = &d.row;
    let mut s = fields(&[
        ("organizationId", r.organization_id.to_string()),
        ("name", r.name.clone()),
        ("licenseNumber", opt(r.license_number.as_ref())),
        ("currency", r.currency.clone()),
        (
            "validationNumberPrefix",
            opt(r.validation_number_prefix.as_ref()),
        ),
        ("isActive", yes(r.is_active)),
        ("events", r.event_count.to_string()),
        ("rsus", r.rsu_count.to_string()),
        ("operators", r.operator_count.to_string()),
        ("configVersion", d.config_version.to_string()),
        ("createdAt", time(Some(r.created_at))),
    ]);
    let mut t = Table::new(
        &[
            ("VENUE ID", false),
            ("NAME", false),
            ("TIME ZONE", false),
            ("ACTIVE", false),
        ],
        1,
    );
    for v in &d.venues {
        t.row(vec![
            v.venue_id.to_string(),
            v.name.clone(),
            opt(v.timezone.as_ref()),
            yes(v.is_active),
        ]);
    }
    section(&mut s, "Venues", t.render());
    s
}

fn event(d: &show::EventDetail, _: DateTime<Utc>) -> String {
    let r = &d.row;
    let cur = &r.currency;
    let mut pairs = vec![
        ("eventId", r.event_id.to_string()),
        ("name", r.name.clone()),
        ("eventIdentifier", r.event_identifier.clone()),
        ("organizationId", r.organization_id.to_string()),
        ("state", r.state.clone()),
        (
            "sales",
            format!(
                "{} to {}",
                time(Some(r.sales_start_time)),
                time(Some(r.sales_end_time))
            ),
        ),
        ("drawTime", time(Some(r.draw_time))),
        (
            "ticketsSold",
            format!(
                "{} of at most {} ({} sales)",
                r.tickets_sold, r.max_tickets, r.sales_count
            ),
        ),
        ("netSales", money(r.net_sales, cur)),
        (
            "rsus",
            format!(
                "{} holding {} numbers, {} unsold",
                d.rsu_count, d.allocated_numbers, d.numbers_left
            ),
        ),
    ];
    if let Some(j) = &d.jackpot {
        pairs.push((
            "jackpot",
            format!(
                "{} ({} % of net sales, seed {})",
                money(j.amount, cur),
                f64::from(j.percentage_bp) / 100.0,
                money(j.seed_amount, cur)
            ),
        ));
    }
    pairs.push(("salesClosedAt", time(d.sales_closed_at)));
    pairs.push((
        "reconciled",
        match (
            &d.reconciliation_confirmed_at,
            &d.reconciliation_confirmed_by_name,
        ) {
            (Some(at), by) => format!("{} by {}", time(Some(*at)), opt(by.as_ref())),
            (None, _) => "-".into(),
        },
    ));
    pairs.push((
        "commitment",
        d.draw_commitment.as_ref().map_or_else(
            || "- (published when the event enters sales_closed)".into(),
            |c| format!("{} ({})", c.commitment, time(Some(c.committed_at))),
        ),
    ));
    pairs.push(("drawnAt", time(d.drawn_at)));
    let mut s = fields(&pairs);
    section(&mut s, "Packages", package_table(&d.packages));
    let mut t = Table::new(
        &[
            ("PRIZE ID", false),
            ("POS", true),
            ("NAME", false),
            ("WINNERS", true),
            ("VALUE", true),
        ],
        2,
    );
    for p in &d.prizes {
        let value = match (p.value, p.percentage_bp) {
            (Some(v), _) => money(v, cur),
            (None, Some(bp)) => format!("{} %", f64::from(bp) / 100.0),
            _ => "-".into(),
        };
        t.row(vec![
            p.prize_id.to_string(),
            p.position.to_string(),
            p.name.clone(),
            p.winner_count.to_string(),
            value,
        ]);
    }
    section(&mut s, "Prizes", t.render());
    s
}

fn package(d: &show::PackageDetail, _: DateTime<Utc>) -> String {
    let r = &d.row;
    let mut s = fields(&[
        ("packageId", r.package_id.to_string()),
        ("eventId", r.event_id.to_string()),
        ("name", r.name.clone()),
        ("ticketCount", r.ticket_count.to_string()),
        ("price", money(r.price, &r.currency)),
        ("isActive", yes(r.is_active)),
        ("activeFrom", time(r.active_from)),
        ("activeTo", time(r.active_to)),
        ("salesCount", r.sales_count.to_string()),
    ]);
    let mut t = Table::new(&[("EFFECTIVE FROM", false), ("PRICE", true)], 0);
    for p in &d.price_history {
        t.row(vec![
            time(Some(p.effective_from)),
            money(p.price, &r.currency),
        ]);
    }
    section(&mut s, "Price history", t.render());
    s
}

fn operator(d: &show::OperatorDetail, _: DateTime<Utc>) -> String {
    let r = &d.row;
    fields(&[
        ("operatorId", r.operator_id.to_string()),
        ("organizationId", r.organization_id.to_string()),
        ("name", r.name.clone()),
        ("role", r.role.clone()),
        ("isActive", yes(r.is_active)),
        ("createdAt", time(Some(r.created_at))),
        ("salesCount", d.sales_count.to_string()),
        ("lastSaleAt", time(d.last_sale_at)),
    ])
}

fn rsu(d: &show::RsuDetail, now: DateTime<Utc>) -> String {
    let r = &d.row;
    let l = &d.offline_limits;
    let mut s = fields(&[
        ("rsuId", r.rsu_id.to_string()),
        ("rsu", format!("{} {}", r.rsu_no, r.name)),
        ("organizationId", r.organization_id.to_string()),
        ("state", r.state.clone()),
        ("deviceIdentifier", opt(r.device_identifier.as_ref())),
        ("currentEpoch", r.current_epoch.to_string()),
        (
            "lastHeartbeatAt",
            format!(
                "{} ({})",
                time(r.last_heartbeat_at),
                ago(r.last_heartbeat_at, now)
            ),
        ),
        ("pendingCount", opt(r.pending_count)),
        (
            "oldestPendingAge",
            opt(r.oldest_pending_age_secs.map(|s| format!("{s}s"))),
        ),
        ("printerStatus", opt(r.printer_status.as_ref())),
        ("appVersion", opt(r.app_version.as_ref())),
        ("lastPushAt", time(r.last_push_at)),
        ("activeKeys", r.active_key_count.to_string()),
        ("numbersLeft", r.numbers_left.to_string()),
        ("openExceptions", d.open_exceptions.to_string()),
        ("pendingCommands", d.pending_commands.to_string()),
        (
            "maxOfflineTickets",
            format!(
                "{} (from {})",
                l.max_offline_tickets, l.max_offline_tickets_from
            ),
        ),
        (
            "offlineSaleExpiration",
            format!("{} minutes", l.offline_sale_expiration_minutes),
        ),
        (
            "syncInterval",
            format!("{} minutes", l.sync_interval_minutes),
        ),
    ]);
    let mut t = Table::new(
        &[
            ("KEY ID", false),
            ("STATUS", false),
            ("EXPIRES", false),
            ("FIRST USED", false),
            ("EPOCH", true),
        ],
        1,
    );
    for k in &d.keys {
        let text = |f: &str| k.get(f).and_then(Value::as_str).unwrap_or("-").to_string();
        let at = |f: &str| {
            k.get(f)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        t.row(vec![
            text("keyId"),
            text("status"),
            time(at("expiresAt")),
            time(at("firstUsedAt")),
            k.get("enrolledEpoch")
                .and_then(Value::as_i64)
                .map_or_else(|| "-".into(), |e| e.to_string()),
        ]);
    }
    section(&mut s, "Keys", t.render());
    let mut t = Table::new(
        &[
            ("EPOCH", true),
            ("STARTED", false),
            ("APP VERSION", false),
            ("SERVER SEQ", true),
            ("DEVICE SEQ", true),
            ("PENDING", true),
            ("PRINTER", false),
            ("HEARTBEAT", false),
            ("CHAIN", false),
        ],
        2,
    );
    for e in &d.epochs {
        t.row(vec![
            e.epoch.to_string(),
            time(Some(e.started_at)),
            e.app_version.clone(),
            e.last_seq.to_string(),
            opt(e.reported_last_seq),
            opt(e.pending_count),
            opt(e.printer_status.as_ref()),
            ago(e.last_heartbeat_at, now),
            if e.chain_verified {
                "ok".into()
            } else {
                format!("broken at {}", opt(e.chain_broken_at))
            },
        ]);
    }
    section(&mut s, "Epochs", t.render());
    section(&mut s, "Allocations", allocation_table(&d.allocations));
    s
}

fn allocation(r: &list::AllocationRow, _: DateTime<Utc>) -> String {
    fields(&[
        ("allocationId", r.allocation_id.to_string()),
        (
            "eventId",
            format!("{} ({})", r.event_id, r.event_identifier),
        ),
        ("rsuId", format!("{} (RSU {})", r.rsu_id, r.rsu_no)),
        ("range", format!("{}–{}", r.start_number, r.end_number)),
        ("nextNumber", r.next_number.to_string()),
        ("numbersLeft", r.numbers_left.to_string()),
        ("state", r.state.clone()),
        ("ticketsSold", r.tickets_sold.to_string()),
        ("ticketsVoided", r.tickets_voided.to_string()),
        ("releasedFrom", opt(r.released_from)),
        (
            "withheld",
            match (&r.withheld_at, &r.withheld_reason) {
                (Some(at), why) => format!("{}: {}", time(Some(*at)), opt(why.as_ref())),
                (None, _) => "-".into(),
            },
        ),
        ("allocatedAt", time(Some(r.allocated_at))),
    ])
}
