#![allow(clippy::unwrap_used)]
//! The device store against real SQLite files: invariants of docs/design.md §3 and every sale
//! refusal. One test binary of topic modules; the demo device, the cash sale and the sale
//! confirmed printed come from `rsu_store::testkit`, shared with rsu-app's and rsu-sync's tests.

mod database;
mod journal;
mod lifecycle;
mod operators;
mod perks;
mod sales;
mod turns;
mod voids;

pub use rsu_store::testkit::{ack_all, cash, Demo};
use rsu_store::StoreError;
use uuid::Uuid;

/// The demo device with its clock pinned at `t0`.
pub fn demo() -> Demo {
    Demo::new()
}

/// The id of the demo event's package of `tickets` tickets.
pub fn package(d: &Demo, tickets: u32) -> Uuid {
    d.package(tickets)
}

/// Sells and confirms the print, as the kiosk does.
pub fn sell_ok(d: &mut Demo, tickets: u32) -> rsu_store::Sale {
    d.sell_ok(tickets)
}

/// The code of a refused sale.
pub fn refusal(r: Result<rsu_store::Sale, StoreError>) -> String {
    r.unwrap_err().code().to_string()
}
