//! Typed payloads of journal entries. They are serialized to JSON (camelCase, integers only)
//! and become the `payload` of an [`crate::journal::EntryBody`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::journal::rfc3339_millis;

/// How a sale was paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// `cash` or `card` (card on an external terminal).
    pub method: PaymentMethod,
    /// The external terminal's reference, required for card.
    pub reference: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
}

impl PaymentMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cash" => Some(PaymentMethod::Cash),
            "card" => Some(PaymentMethod::Card),
            _ => None,
        }
    }
}

/// Optional buyer details (seed 002 `customerInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInfo {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl CustomerInfo {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none()
    }
}

/// The part of a sale's draw numbers taken from one allocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationSegment {
    pub allocation_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
}

/// A sale, as recorded on the device (seed 002 "RSU Offline Sale Record" plus what the server checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalePayload {
    /// The sale's id made on the device (`localId` in seed 002); becomes the order id.
    pub local_id: Uuid,
    pub event_id: Uuid,
    /// The allocation of the first draw number.
    pub allocation_id: Uuid,
    /// Every allocation the numbers came from, in order (a sale can span two).
    pub segments: Vec<AllocationSegment>,
    pub validation_number: String,
    /// The device's sale sequence used in the validation number.
    pub sale_seq: u64,
    pub draw_numbers: Vec<i64>,
    pub package_id: Uuid,
    pub package_name: String,
    pub ticket_count: u32,
    /// The package price in force at the sale, minor units.
    pub unit_price: i64,
    pub total_amount: i64,
    pub currency: String,
    pub payment: Payment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_info: Option<CustomerInfo>,
    pub operator_id: Uuid,
    pub shift_id: Option<Uuid>,
    #[serde(with = "rfc3339_millis")]
    pub sold_at: DateTime<Utc>,
}

/// A whole-order void.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoidPayload {
    pub local_id: Uuid,
    pub validation_number: String,
    pub reason: String,
    pub operator_id: Uuid,
    pub supervisor_id: Uuid,
    #[serde(with = "rfc3339_millis")]
    pub voided_at: DateTime<Utc>,
}

/// A second or later print of a sale's receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReprintPayload {
    pub local_id: Uuid,
    pub validation_number: String,
    /// 1 for the first reprint.
    pub reprint_number: u32,
    pub operator_id: Uuid,
    pub supervisor_id: Option<Uuid>,
}

/// A significant event (GLI-31's term).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriticalEventPayload {
    /// e.g. `STARTUP`, `LOGIN`, `PIN_FAILED`, `LOCKOUT`, `PRINT_FAILED`.
    pub event_type: String,
    /// `INFO`, `WARNING` or `CRITICAL`.
    pub severity: String,
    pub description: String,
    pub operator_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// Sales or voids of one package in a Z report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageLine {
    pub package_id: Uuid,
    pub package_name: String,
    pub sales_count: u64,
    pub sales_amount: i64,
    pub voids_count: u64,
    pub voids_amount: i64,
    pub tickets: u64,
}

/// Draw numbers used from one allocation during a shift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeUse {
    pub allocation_id: Uuid,
    pub first_number: i64,
    pub last_number: i64,
    pub count: u64,
}

/// The Z report of a closed shift (DESIGN §4 "Shifts").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftClosePayload {
    pub shift_id: Uuid,
    pub operator_id: Uuid,
    pub closed_by: Uuid,
    #[serde(with = "rfc3339_millis")]
    pub opened_at: DateTime<Utc>,
    #[serde(with = "rfc3339_millis")]
    pub closed_at: DateTime<Utc>,
    pub currency: String,
    pub float_amount: i64,
    pub lines: Vec<PackageLine>,
    pub sales_count: u64,
    pub sales_amount: i64,
    pub voids_count: u64,
    pub voids_amount: i64,
    pub cash_sales_amount: i64,
    pub card_sales_amount: i64,
    /// float + cash sales − cash voids.
    pub cash_expected: i64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The journal chain head just before this entry.
    pub chain_head: String,
    pub ranges: Vec<RangeUse>,
}

/// Unused numbers given back to the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationReleasePayload {
    pub allocation_id: Uuid,
    pub event_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
}
