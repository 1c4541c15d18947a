//! Read-only facts about the device: the packages on sale now, in display order, the current
//! event, and the device and event details that head a Z report or a printer test page (what the
//! kiosk's screens and receipts read besides a sale).

use rsu_core::event::Package;
use rusqlite::OptionalExtension;
use uuid::Uuid;

use crate::sale::{package_from_row, PACKAGE_COLUMNS};
use crate::{parse_uuid, Store, StoreError};

/// The device and its current event, for receipts that are not about one sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceContext {
    pub organization_name: String,
    pub license_number: String,
    pub rsu_name: String,
    pub rsu_no: u32,
    pub rsu_id: Uuid,
    pub epoch: i64,
    /// The event the kiosk sells for (the active one first), if any.
    pub event: Option<EventSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    pub id: Uuid,
    pub name: String,
    pub identifier: String,
    pub state: String,
    pub currency: String,
    pub timezone: String,
}

impl Store {
    /// The packages of the current event that can be sold now, in display order.
    pub fn packages_on_sale(&self) -> Result<Vec<Package>, StoreError> {
        let now = self.now()?;
        let Some(event) = self.current_event()? else {
            return Ok(Vec::new());
        };
        let mut stmt = self.connection().prepare_cached(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE event_id = ?1 AND is_active = 1
             ORDER BY display_order, ticket_count"
        ))?;
        let mut rows = stmt.query([event.id.to_string()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (_, mut p) = package_from_row(r)?;
            p.perk_ids = crate::perks::package_perk_ids(self.connection(), p.id)?;
            if p.available_at(now) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The event the kiosk sells for: the active one, else the latest to open.
    pub fn current_event(&self) -> Result<Option<EventSummary>, StoreError> {
        let row: Option<(String, String, String, String, String, String)> = self
            .connection()
            .query_row(
                "SELECT id, name, identifier, state, currency, timezone FROM events
                 ORDER BY (state = 'active') DESC, sales_start DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(id, name, identifier, state, currency, timezone)| {
            Ok(EventSummary {
                id: parse_uuid(&id)?,
                name,
                identifier,
                state,
                currency,
                timezone,
            })
        })
        .transpose()
    }

    /// The organization, the device and the current event.
    pub fn device_context(&self) -> Result<DeviceContext, StoreError> {
        let (org, licence): (String, String) = self
            .connection()
            .query_row(
                "SELECT name, license_number FROM organization WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        let (rsu_id, rsu_name, rsu_no, epoch): (String, String, u32, i64) = self
            .connection()
            .query_row(
                "SELECT rsu_id, name, rsu_no, epoch FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        Ok(DeviceContext {
            organization_name: org,
            license_number: licence,
            rsu_name,
            rsu_no,
            rsu_id: parse_uuid(&rsu_id)?,
            epoch,
            event: self.current_event()?,
        })
    }

    /// An operator's name by id (for the Z report), `None` if not on the roster.
    pub fn operator_name(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection()
            .query_row(
                "SELECT name FROM operators WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }
}
