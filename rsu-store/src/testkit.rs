//! Device-side test support, compiled only with the `testkit` feature (tests and benches of
//! rsu-store, rsu-app and rsu-sync enable it; the kiosk and the daemon never do): the demo device
//! in a temporary directory, a cash sale, and a sale confirmed printed as the kiosk makes it.
//! One copy here instead of one per test suite. Panics on failure: it is for tests only.

use chrono::{DateTime, Utc};
use rsu_core::config::DeviceConfig;
use rsu_core::payload::{Payment, PaymentMethod};
use std::path::PathBuf;
use tempfile::TempDir;
use uuid::Uuid;

use crate::{demo_config, EntryOutcome, Sale, SaleRequest, Store, SyncResult};

/// The demo device ([`demo_config`]) in a temporary directory, removed when dropped.
pub struct Demo {
    pub dir: TempDir,
    /// The database file.
    pub path: PathBuf,
    pub store: Store,
    /// The configuration the device was given (its events, packages and allocations).
    pub config: DeviceConfig,
    /// The time the device was created (and its clock pinned at, see [`Demo::new`]).
    pub t0: DateTime<Utc>,
}

impl Demo {
    /// The demo device with its clock pinned at the time it was made (tests move it with
    /// [`Store::set_fixed_now`]).
    pub fn new() -> Demo {
        let mut d = Demo::on_real_clock();
        d.store.set_fixed_now(Some(d.t0));
        d
    }

    /// The demo device on the real clock (where clock offsets matter).
    pub fn on_real_clock() -> Demo {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("rsu.sqlite3");
        let t0 = Utc::now();
        let mut store = Store::open(&path).expect("a new store");
        let config = enroll_demo(&mut store, t0);
        Demo {
            dir,
            path,
            store,
            config,
            t0,
        }
    }

    /// The id of the demo event's package of `tickets` tickets.
    pub fn package(&self, tickets: u32) -> Uuid {
        self.config.events[0]
            .packages
            .iter()
            .find(|p| p.ticket_count == tickets)
            .unwrap_or_else(|| panic!("the demo has no {tickets}-ticket package"))
            .id
    }

    /// Sells a package of `tickets` tickets for cash and confirms the print, as the kiosk does.
    pub fn sell_ok(&mut self, tickets: u32) -> Sale {
        let package = self.package(tickets);
        sell_ok(&mut self.store, package)
    }
}

impl Default for Demo {
    fn default() -> Self {
        Demo::new()
    }
}

/// Makes `store` the demo device as of `now`; returns its configuration.
pub fn enroll_demo(store: &mut Store, now: DateTime<Utc>) -> DeviceConfig {
    let (identity, config) = demo_config(now).expect("the demo configuration");
    store.set_identity(&identity).expect("the demo identity");
    store
        .apply_config(&config)
        .expect("the demo configuration applies");
    config
}

/// A cash sale of a package, with no card reference and no customer.
pub fn cash(package_id: Uuid) -> SaleRequest {
    SaleRequest {
        package_id,
        payment: Payment {
            method: PaymentMethod::Cash,
            reference: None,
        },
        customer: None,
    }
}

/// Sells `package_id` for cash and confirms the print, as the kiosk does; returns the printed sale.
pub fn sell_ok(store: &mut Store, package_id: Uuid) -> Sale {
    let sale = store.sell(&cash(package_id)).expect("the sale");
    store.mark_printed(sale.id).expect("the print confirmed")
}

/// The id of a package of `tickets` tickets on sale now.
pub fn package_on_sale(store: &Store, tickets: u32) -> Uuid {
    store
        .packages_on_sale()
        .expect("the packages on sale")
        .into_iter()
        .find(|p| p.ticket_count == tickets)
        .unwrap_or_else(|| panic!("no {tickets}-ticket package on sale"))
        .id
}

/// Records every pending journal entry as applied by the server.
pub fn ack_all(store: &mut Store) {
    let pending = store.pending_entries(100_000).expect("the pending entries");
    let results: Vec<SyncResult> = pending
        .iter()
        .map(|e| SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: EntryOutcome::Applied,
        })
        .collect();
    store
        .record_results(&results)
        .expect("the results recorded");
}
