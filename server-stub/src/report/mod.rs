//! The reconciliation report of an event (DESIGN §7, issue 11): per RSU and range, what was
//! allocated, sold, voided, released and what is unaccounted, computed from the tickets
//! themselves (a range join on `tickets(event_id, draw_number)`, never from the allocation
//! counters); amounts by payment method; sync position against the last heartbeat; the chain;
//! open exceptions; late sales; shift closes against the server's totals; per seller; event
//! totals and the jackpot. The JSON shape is documented in docs/server.md ("Reconciliation
//! report") and versioned by `reportVersion`.
//!
//! The draw gate ([`crate::closeout::gate`]) uses the same [`build`] inside the transaction
//! that changes the event's state.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

mod build;
pub mod proceeds;
mod render;

pub use build::{build, event_report};
pub use render::{to_csv, to_text};

/// Bumped whenever a field changes meaning or disappears (adding a field does not bump it).
pub const REPORT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub report_version: u32,
    pub generated_at: DateTime<Utc>,
    pub event: EventInfo,
    /// `reconciled` when every RSU holding an allocation is reconciled or excluded, else `pending`.
    pub status: String,
    /// Every RSU that blocks the reconciliation, with every reason.
    pub blocking: Vec<Blocking>,
    pub totals: Totals,
    pub jackpot: Option<Jackpot>,
    /// Net sales, tax, prizes, operating fee and what is left for the beneficiary.
    pub proceeds: proceeds::Proceeds,
    /// The draw's committed seed (from sales_closed on; the secret once drawn): docs/draw.md.
    pub draw_commitment: Option<crate::draw::Commitment>,
    pub rsus: Vec<RsuReport>,
    pub sellers: Vec<Seller>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventInfo {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub event_identifier: String,
    pub name: String,
    pub state: String,
    pub currency: String,
    pub sales_closed_at: Option<DateTime<Utc>>,
    pub reconciliation_confirmed_at: Option<DateTime<Utc>>,
    pub reconciliation_confirmed_by: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocking {
    pub rsu_id: Uuid,
    pub rsu_no: i32,
    pub rsu_name: String,
    pub reasons: Vec<Reason>,
}

/// Why an RSU is pending: a stable `code` and a sentence saying what to do.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub code: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Numbers {
    pub allocated: i64,
    pub sold: i64,
    pub voided: i64,
    pub released: i64,
    /// Numbers printed on sales the server rejected, once a person resolved the rejection.
    pub resolved_rejected: i64,
    /// allocated − sold − voided − released − resolvedRejected (of RSUs not excluded).
    pub unaccounted: i64,
    /// The unaccounted numbers of excluded RSUs.
    pub excluded: i64,
}

impl Numbers {
    fn add(&mut self, o: &Numbers) {
        self.allocated += o.allocated;
        self.sold += o.sold;
        self.voided += o.voided;
        self.released += o.released;
        self.resolved_rejected += o.resolved_rejected;
        self.unaccounted += o.unaccounted;
        self.excluded += o.excluded;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Amounts {
    pub orders: i64,
    pub tickets: i64,
    pub gross: i64,
    pub voided_orders: i64,
    pub voided: i64,
    pub net: i64,
}

impl Amounts {
    fn add(&mut self, orders: i64, tickets: i64, amount: i64, voided: bool) {
        self.orders += orders;
        self.tickets += tickets;
        self.gross += amount;
        if voided {
            self.voided_orders += orders;
            self.voided += amount;
        }
        self.net = self.gross - self.voided;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyTotals {
    #[serde(flatten)]
    pub all: Amounts,
    /// `cash`, `card` (and `unknown` for orders without one).
    pub by_payment_method: BTreeMap<String, Amounts>,
}

impl MoneyTotals {
    fn add(&mut self, method: &str, orders: i64, tickets: i64, amount: i64, voided: bool) {
        self.all.add(orders, tickets, amount, voided);
        self.by_payment_method
            .entry(method.to_string())
            .or_default()
            .add(orders, tickets, amount, voided);
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub rsus: i64,
    pub rsus_reconciled: i64,
    pub rsus_pending: i64,
    pub rsus_excluded: i64,
    pub ranges: i64,
    pub numbers: Numbers,
    /// Every order of the event (RSU and others).
    pub amounts: MoneyTotals,
    pub late_sales: i64,
    pub open_exceptions: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Jackpot {
    pub seed_amount: i64,
    pub starting_amount: i64,
    pub percentage_bp: u32,
    pub net_sales: i64,
    pub amount: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeReport {
    pub allocation_id: Uuid,
    pub start_number: i32,
    pub end_number: i32,
    pub released_from: Option<i32>,
    pub withheld: bool,
    #[serde(flatten)]
    pub numbers: Numbers,
    /// The unaccounted numbers, compressed (`1016–1100`).
    pub unaccounted_numbers: Vec<String>,
    /// Tickets found in the released tail (should be 0: a release never covers a sold number).
    pub sold_in_released: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochSync {
    pub epoch: i32,
    pub current: bool,
    pub last_seq_received: i64,
    pub last_seq_reported: Option<i64>,
    pub pending_at_last_heartbeat: Option<i64>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    pub chain_verified: bool,
    pub chain_broken_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub epochs: Vec<EpochSync>,
    pub chain_verified: bool,
    /// The first seq that failed the chain check, with its epoch.
    pub first_bad_seq: Option<EpochSeq>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochSeq {
    pub epoch: i32,
    pub seq: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exception {
    /// `entry` (a rejected or conflicting journal entry) or `seq_conflict` (a second version of
    /// a stored seq, kept in journal_conflicts).
    pub source: &'static str,
    /// The id to give `admin resolve --entry-id`.
    pub id: Uuid,
    pub epoch: i32,
    pub seq: i64,
    pub kind: Option<String>,
    pub status: String,
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    pub received_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftCheck {
    pub shift_id: Uuid,
    pub operator_id: Uuid,
    pub epoch: i32,
    pub seq: i64,
    pub closed_at: DateTime<Utc>,
    pub device: ShiftTotals,
    pub server: ShiftTotals,
    pub matches: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShiftTotals {
    pub sales_count: i64,
    pub sales_amount: i64,
    pub voids_count: i64,
    pub voids_amount: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionInfo {
    pub id: Uuid,
    pub reason: String,
    pub marked_lost: bool,
    pub excluded_by: String,
    pub excluded_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LateSales {
    pub count: i64,
    pub amount: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RsuReport {
    pub rsu_id: Uuid,
    pub rsu_no: i32,
    pub name: String,
    /// The RSU's own state (`active`, `lost`, …).
    pub rsu_state: String,
    /// `reconciled`, `pending` or `excluded`.
    pub status: String,
    /// Every reason it is pending (for an excluded RSU: what would block it otherwise).
    pub reasons: Vec<Reason>,
    pub exclusion: Option<ExclusionInfo>,
    /// Earlier exclusions that were lifted.
    pub exclusion_history: Vec<ExclusionInfo>,
    pub numbers: Numbers,
    /// For an excluded RSU: its unaccounted numbers, compressed; they never enter the draw.
    pub excluded_numbers: Vec<String>,
    pub ranges: Vec<RangeReport>,
    pub amounts: MoneyTotals,
    pub sync: SyncReport,
    pub open_exceptions: i64,
    /// Open ones first, then resolved ones.
    pub exceptions: Vec<Exception>,
    pub late_sales: LateSales,
    pub shift_closes: Vec<ShiftCheck>,
    /// Per perk the RSU was given or issued for the event: allocated, issued, claimed, voided,
    /// released (docs/server.md "Perks"); empty when the event has no perks.
    pub perks: Vec<crate::perks::report::PerkLine>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seller {
    pub operator_id: Option<Uuid>,
    pub name: Option<String>,
    pub sales: i64,
    pub tickets: i64,
    pub gross: i64,
    pub voids: i64,
    pub voided: i64,
    pub net: i64,
}
