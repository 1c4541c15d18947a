//! Typed payloads of journal entries. They are serialized to JSON (camelCase, integers only)
//! and become the `payload` of an [`crate::journal::EntryBody`]; [`Payload`] decodes one by its kind.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::journal::{rfc3339_millis, EntryKind};

/// How a sale was paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// `cash` or `card` (card on an external terminal).
    pub method: PaymentMethod,
    /// The external terminal's reference, required for card.
    pub reference: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AllocationSegment {
    pub allocation_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
}

/// A sale, as recorded on the device (seed 002 "RSU Offline Sale Record" plus what the server checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The perks the sale issued, in receipt order (absent when none: older entries hash as
    /// they always did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perks: Vec<IssuedPerk>,
}

/// One perk unit a sale issued, with its one-time claim code ([`crate::perk::ClaimCode`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IssuedPerk {
    pub perk_id: Uuid,
    /// The perk allocation the unit came from; `None` for a perk without inventory.
    pub perk_allocation_id: Option<Uuid>,
    pub perk_name: String,
    pub claim_code: String,
}

/// Perk units of one allocation the device did not issue, given back at close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PerkReleasePayload {
    pub perk_allocation_id: Uuid,
    pub perk_id: Uuid,
    pub event_id: Uuid,
    /// Units the device issued from the allocation (all of them, voided sales included).
    pub issued: u32,
    /// Units given back: the allocation's quantity minus `issued`.
    pub released: u32,
}

/// A whole-order void.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RangeUse {
    pub allocation_id: Uuid,
    pub first_number: i64,
    pub last_number: i64,
    pub count: u64,
}

/// The Z report of a closed shift (DESIGN §4 "Shifts").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AllocationReleasePayload {
    pub allocation_id: Uuid,
    pub event_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
}

/// A journal entry's payload, decoded by its kind: the one place a payload's JSON becomes a type.
///
/// The entry keeps the JSON as the device wrote it ([`crate::journal::EntryBody::payload`]): the
/// hash covers those bytes, never a re-serialization of this value, so decoding cannot change
/// what the chain proves. Fields this version does not know are ignored, as they always were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Sale(SalePayload),
    Void(VoidPayload),
    Reprint(ReprintPayload),
    CriticalEvent(CriticalEventPayload),
    ShiftClose(ShiftClosePayload),
    AllocationRelease(AllocationReleasePayload),
    PerkRelease(PerkReleasePayload),
}

/// A payload that does not match its kind's schema, with the path of the field that is wrong
/// (`drawNumbers[2]`, `payment.method`, or `.` for the payload as a whole).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} payload field {path}: {message}")]
pub struct PayloadError {
    pub kind: EntryKind,
    pub path: String,
    pub message: String,
}

impl Payload {
    /// Decodes `payload` as the payload of an entry of `kind`.
    pub fn decode(kind: EntryKind, payload: &Value) -> Result<Payload, PayloadError> {
        fn typed<T: DeserializeOwned>(kind: EntryKind, v: &Value) -> Result<T, PayloadError> {
            serde_path_to_error::deserialize(v).map_err(|e| PayloadError {
                kind,
                path: e.path().to_string(),
                message: e.into_inner().to_string(),
            })
        }
        Ok(match kind {
            EntryKind::Sale => Payload::Sale(typed(kind, payload)?),
            EntryKind::Void => Payload::Void(typed(kind, payload)?),
            EntryKind::Reprint => Payload::Reprint(typed(kind, payload)?),
            EntryKind::CriticalEvent => Payload::CriticalEvent(typed(kind, payload)?),
            EntryKind::ShiftClose => Payload::ShiftClose(typed(kind, payload)?),
            EntryKind::AllocationRelease => Payload::AllocationRelease(typed(kind, payload)?),
            EntryKind::PerkRelease => Payload::PerkRelease(typed(kind, payload)?),
        })
    }

    /// The kind of entry this payload belongs to.
    pub fn kind(&self) -> EntryKind {
        match self {
            Payload::Sale(_) => EntryKind::Sale,
            Payload::Void(_) => EntryKind::Void,
            Payload::Reprint(_) => EntryKind::Reprint,
            Payload::CriticalEvent(_) => EntryKind::CriticalEvent,
            Payload::ShiftClose(_) => EntryKind::ShiftClose,
            Payload::AllocationRelease(_) => EntryKind::AllocationRelease,
            Payload::PerkRelease(_) => EntryKind::PerkRelease,
        }
    }

    /// The JSON a device writes for this payload (camelCase, integers only).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Payload::Sale(p) => serde_json::to_value(p),
            Payload::Void(p) => serde_json::to_value(p),
            Payload::Reprint(p) => serde_json::to_value(p),
            Payload::CriticalEvent(p) => serde_json::to_value(p),
            Payload::ShiftClose(p) => serde_json::to_value(p),
            Payload::AllocationRelease(p) => serde_json::to_value(p),
            Payload::PerkRelease(p) => serde_json::to_value(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{EntryBody, JournalEntry};
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// One payload of every kind, as a device writes it.
    fn one_of_each() -> Vec<Payload> {
        let t = at("2026-06-28T14:25:00.123Z");
        vec![
            Payload::Sale(SalePayload {
                local_id: id(1),
                event_id: id(2),
                allocation_id: id(3),
                segments: vec![AllocationSegment {
                    allocation_id: id(3),
                    start_number: 101,
                    end_number: 105,
                }],
                validation_number: "ER7-2026-12-ABCD".into(),
                sale_seq: 12,
                draw_numbers: vec![101, 102, 103, 104, 105],
                package_id: id(4),
                package_name: "Five".into(),
                ticket_count: 5,
                unit_price: 2000,
                total_amount: 2000,
                currency: "USD".into(),
                payment: Payment {
                    method: PaymentMethod::Card,
                    reference: Some("T-1".into()),
                },
                customer_info: Some(CustomerInfo {
                    name: Some("Ann".into()),
                    email: None,
                    phone: None,
                }),
                operator_id: id(5),
                shift_id: Some(id(6)),
                sold_at: t,
                perks: vec![IssuedPerk {
                    perk_id: id(10),
                    perk_allocation_id: Some(id(11)),
                    perk_name: "VIP Parking".into(),
                    claim_code: "ER7-2026-000012-P1-7KQF9M".into(),
                }],
            }),
            Payload::Void(VoidPayload {
                local_id: id(1),
                validation_number: "ER7-2026-12-ABCD".into(),
                reason: "wrong package".into(),
                operator_id: id(5),
                supervisor_id: id(7),
                voided_at: t,
            }),
            Payload::Reprint(ReprintPayload {
                local_id: id(1),
                validation_number: "ER7-2026-12-ABCD".into(),
                reprint_number: 1,
                operator_id: id(5),
                supervisor_id: None,
            }),
            Payload::CriticalEvent(CriticalEventPayload {
                event_type: "PIN_FAILED".into(),
                severity: "WARNING".into(),
                description: "three wrong PINs".into(),
                operator_id: Some(id(5)),
                event_id: None,
                metadata: json!({"attempts": 3}),
            }),
            Payload::ShiftClose(ShiftClosePayload {
                shift_id: id(6),
                operator_id: id(5),
                closed_by: id(7),
                opened_at: t,
                closed_at: t,
                currency: "USD".into(),
                float_amount: 10_000,
                lines: vec![PackageLine {
                    package_id: id(4),
                    package_name: "Five".into(),
                    sales_count: 1,
                    sales_amount: 2000,
                    voids_count: 0,
                    voids_amount: 0,
                    tickets: 5,
                }],
                sales_count: 1,
                sales_amount: 2000,
                voids_count: 0,
                voids_amount: 0,
                cash_sales_amount: 0,
                card_sales_amount: 2000,
                cash_expected: 10_000,
                first_seq: Some(1),
                last_seq: Some(1),
                chain_head: "00".repeat(32),
                ranges: vec![RangeUse {
                    allocation_id: id(3),
                    first_number: 101,
                    last_number: 105,
                    count: 5,
                }],
            }),
            Payload::AllocationRelease(AllocationReleasePayload {
                allocation_id: id(3),
                event_id: id(2),
                start_number: 106,
                end_number: 500,
            }),
            Payload::PerkRelease(PerkReleasePayload {
                perk_allocation_id: id(11),
                perk_id: id(10),
                event_id: id(2),
                issued: 1,
                released: 9,
            }),
        ]
    }

    #[test]
    fn every_kind_decodes_to_its_variant_and_back_to_the_same_canonical_bytes() {
        let all = one_of_each();
        assert_eq!(
            all.iter().map(Payload::kind).collect::<Vec<_>>(),
            EntryKind::ALL.to_vec(),
            "one payload of every kind"
        );
        for p in all {
            let written = p.to_value().unwrap();
            let body = EntryBody {
                epoch: 1,
                seq: 1,
                entry_id: id(9),
                kind: p.kind(),
                created_at: at("2026-06-28T14:25:00.123Z"),
                payload: written.clone(),
            };
            let entry: JournalEntry = body.clone().chain(crate::ChainHash::GENESIS).unwrap();
            let decoded = Payload::decode(p.kind(), &entry.body.payload).unwrap();
            assert_eq!(decoded, p);
            let again = EntryBody {
                payload: decoded.to_value().unwrap(),
                ..body
            };
            assert_eq!(
                again.canonical_bytes().unwrap(),
                entry.body.canonical_bytes().unwrap(),
                "{} payload does not survive decoding unchanged",
                p.kind()
            );
        }
    }

    #[test]
    fn a_payload_of_another_kind_is_refused_with_the_missing_field_named() {
        let void = one_of_each()[1].to_value().unwrap();
        let err = Payload::decode(EntryKind::Sale, &void).unwrap_err();
        assert_eq!(err.kind, EntryKind::Sale);
        assert!(
            err.to_string()
                .starts_with("sale payload field .: missing field"),
            "{err}"
        );
    }

    #[test]
    fn a_sale_without_perks_hashes_as_before_perks_existed() {
        let Payload::Sale(mut sale) = one_of_each()[0].clone() else {
            unreachable!("the first payload is a sale")
        };
        sale.perks.clear();
        let v = serde_json::to_value(&sale).unwrap();
        assert!(v.get("perks").is_none(), "no perks key: {v}");
        let with = one_of_each()[0].to_value().unwrap();
        assert_eq!(with["perks"][0]["claimCode"], "ER7-2026-000012-P1-7KQF9M");
    }

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let mut sale = one_of_each()[0].to_value().unwrap();
        sale["drawNumbers"][2] = json!("103");
        let err = Payload::decode(EntryKind::Sale, &sale).unwrap_err();
        assert_eq!(err.path, "drawNumbers[2]");
        assert_eq!(
            err.to_string(),
            format!("sale payload field drawNumbers[2]: {}", err.message)
        );
        sale["drawNumbers"][2] = json!(103);
        sale["payment"]["method"] = json!("cheque");
        let err = Payload::decode(EntryKind::Sale, &sale).unwrap_err();
        assert_eq!(err.path, "payment.method");
    }

    #[test]
    fn fields_this_version_does_not_know_are_ignored() {
        let mut release = one_of_each()[5].to_value().unwrap();
        release["note"] = json!("from a newer device");
        assert_eq!(
            Payload::decode(EntryKind::AllocationRelease, &release).unwrap(),
            one_of_each()[5]
        );
    }
}
