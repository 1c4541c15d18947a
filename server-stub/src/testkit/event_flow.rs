//! An event's life in tests: sell on the fixture device, void, release the unused numbers, take
//! the event through close-out, draw. Shared by the draw, retention and dashboard tests.

use axum::http::StatusCode;
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::SalePayload;
use rsu_core::wire::{self, HeartbeatRequest};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{Fixture, TestDevice};
use crate::error::AppError;

/// The name test admin actions are recorded under.
pub const TEST_ADMIN_NAME: &str = "Ann Admin";

impl Fixture {
    /// Moves the fixture's event to `to`, as the test admin.
    pub async fn transition(&self, to: &str) -> Result<Value, AppError> {
        crate::closeout::with_actor(
            Some(TEST_ADMIN_NAME.into()),
            crate::admin::transition(
                &self.db.pool,
                &crate::admin::Transition {
                    event_id: self.event_id,
                    to: to.into(),
                    reason: None,
                },
            ),
        )
        .await
    }

    /// Pushes `entries` of `dev` and checks every one was applied.
    pub async fn push_all_applied(
        &self,
        dev: &TestDevice,
        entries: &[JournalEntry],
    ) -> anyhow::Result<()> {
        let (st, v) = self.send(dev.push_request(entries)?).await?;
        anyhow::ensure!(st == StatusCode::OK, "push answered {st}: {v}");
        for r in v["results"].as_array().into_iter().flatten() {
            anyhow::ensure!(r["status"] == "applied", "an entry was not applied: {v}");
        }
        Ok(())
    }

    /// A heartbeat of `dev` saying it has nothing pending.
    pub async fn heartbeat_of(&self, dev: &TestDevice) -> anyhow::Result<()> {
        let body = HeartbeatRequest {
            epoch: dev.epoch,
            last_seq: dev.next_seq - 1,
            pending_count: 0,
            oldest_pending_age_secs: None,
            printer_status: "ok".into(),
            printer_status_age_secs: None,
            app_version: "test".into(),
            app_hash: "0".repeat(64),
            acknowledged_commands: vec![],
        };
        let (st, v) = self
            .send(dev.request("POST", wire::PATH_HEARTBEAT, serde_json::to_vec(&body)?)?)
            .await?;
        anyhow::ensure!(st == StatusCode::OK, "heartbeat answered {st}: {v}");
        Ok(())
    }

    /// allocation_release entries for the unused tail of every range of `dev` in the event.
    pub async fn releases(&self, dev: &mut TestDevice) -> anyhow::Result<Vec<JournalEntry>> {
        let rows: Vec<(Uuid, i32, i32)> = sqlx::query_as(
            "SELECT id, start_number, end_number FROM rsu_allocations
              WHERE rsu_id = $1 AND event_id = $2 ORDER BY start_number",
        )
        .bind(dev.rsu_id)
        .bind(self.event_id)
        .fetch_all(&self.db.pool)
        .await?;
        let next = dev.next_number;
        let mut out = vec![];
        for (id, s, e) in rows {
            let from = next.max(i64::from(s));
            if from <= i64::from(e) {
                let p = json!({"allocationId": id, "eventId": self.event_id,
                               "startNumber": from, "endNumber": e});
                out.push(dev.entry(EntryKind::AllocationRelease, p));
            }
        }
        Ok(out)
    }

    /// A sale of the package of `tickets` tickets on `dev`, with its payload.
    pub fn sale_on(&self, dev: &mut TestDevice, tickets: u32) -> (JournalEntry, SalePayload) {
        let pkg = self.pkg(tickets);
        let numbers = dev.take_numbers(pkg.ticket_count);
        let s = dev.sale_payload(self.event_id, &pkg, numbers, self.seller_id);
        (
            dev.entry(
                EntryKind::Sale,
                serde_json::to_value(&s).unwrap_or(Value::Null),
            ),
            s,
        )
    }

    /// Sells `sizes` (package ticket counts) on the fixture device, voids the sales at `voided`,
    /// releases the rest, and takes the event to `to` (sales_closed … drawing_ready).
    pub async fn sell_and_close(
        &mut self,
        sizes: &[u32],
        voided: &[usize],
        to: &str,
    ) -> anyhow::Result<Vec<SalePayload>> {
        let placeholder = self.placeholder_device()?;
        let mut dev = std::mem::replace(&mut self.device, placeholder);
        let mut entries = vec![];
        let mut sales = vec![];
        for &n in sizes {
            let (e, s) = self.sale_on(&mut dev, n);
            entries.push(e);
            sales.push(s);
        }
        for &i in voided {
            let v = TestDevice::void_payload(&sales[i], self.supervisor_id);
            entries.push(dev.entry(EntryKind::Void, serde_json::to_value(v)?));
        }
        entries.extend(self.releases(&mut dev).await?);
        let pushed = self.push_all_applied(&dev, &entries).await;
        let beat = self.heartbeat_of(&dev).await;
        self.device = dev;
        pushed?;
        beat?;
        for s in ["sales_closed", "reconciling", "reconciled", "drawing_ready"] {
            self.transition(s)
                .await
                .map_err(|e| anyhow::anyhow!("to {s}: {e}"))?;
            if s == to {
                break;
            }
        }
        Ok(sales)
    }

    /// Runs the draw as the test admin.
    pub async fn draw(&self, beacon: Option<&str>) -> Result<Value, AppError> {
        crate::draw::cli::draw(
            &self.db.pool,
            &crate::draw::cli::Draw {
                event_id: self.event_id,
                beacon: beacon.map(str::to_string),
            },
            Some(TEST_ADMIN_NAME),
        )
        .await
    }

    /// A device standing in while the fixture's own is borrowed.
    pub fn placeholder_device(&self) -> anyhow::Result<TestDevice> {
        Ok(TestDevice {
            key: wire::DeviceKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?,
            rsu_id: Uuid::nil(),
            key_id: Uuid::nil(),
            epoch: 0,
            rsu_no: 0,
            prefix: String::new(),
            validation_key: self.device.validation_key.clone(),
            next_seq: 0,
            prev_hash: rsu_core::journal::ChainHash::GENESIS,
            next_sale_seq: 0,
            next_number: 0,
            clock_offset: 0,
            allocations: vec![],
        })
    }
}
