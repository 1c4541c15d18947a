//! The configuration a device pulls from the server (`GET /v1/rsu/config`, DESIGN §6) and applies
//! in one local transaction. The demo database is built from the same types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{EventState, JackpotRule, Package};
use crate::journal::rfc3339_millis;

/// Everything the device needs to sell, as of one configuration version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeviceConfig {
    /// Increases whenever anything in here changes on the server.
    pub version: i64,
    pub organization: OrganizationConfig,
    pub rsu: RsuConfig,
    pub system: SystemRsuSettings,
    pub events: Vec<EventConfig>,
    pub allocations: Vec<AllocationConfig>,
    pub operators: Vec<OperatorConfig>,
    #[serde(default)]
    pub commands: Vec<Command>,
    /// Perk units this device may issue (issue 14): like draw numbers, an offline device issues a
    /// perk only from what the server gave it, so inventory is never oversold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perk_allocations: Vec<PerkAllocationConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrganizationConfig {
    pub id: Uuid,
    pub name: String,
    pub license_number: String,
    pub primary_currency: String,
    pub rsu_settings: RsuSettings,
    /// The licensee's postal address, one line per `\n`, printed where the jurisdiction requires
    /// `licenseeAddress` on the receipt; absent when none is on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The organization's phone number, printed where the jurisdiction requires
    /// `organizationPhone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Organization `settings.rsuSettings` of seed 002.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RsuSettings {
    pub validation_number_prefix: String,
    #[serde(default = "default_block_size")]
    pub default_validation_number_block_size: u32,
    #[serde(default = "default_sync_timeout")]
    pub offline_sync_timeout_minutes: u32,
}

fn default_block_size() -> u32 {
    100
}
fn default_sync_timeout() -> u32 {
    30
}

/// This device's own settings (seed 002 RSU `configuration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RsuConfig {
    pub id: Uuid,
    pub rsu_no: u32,
    pub name: String,
    pub max_offline_tickets: Option<u64>,
    pub sync_interval_minutes: u32,
    /// Draw numbers left under which the device asks for a top-up; `None` means 5 × the largest package.
    #[serde(default)]
    pub low_water_mark: Option<u64>,
    /// The highest sale sequence the server has seen from this RSU in any epoch (see
    /// `EnrollResponse::last_sale_seq`).
    #[serde(default)]
    pub last_sale_seq: u64,
}

/// The `rsu` part of the system configuration (seed 002).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SystemRsuSettings {
    pub offline_sale_expiration_minutes: i64,
    pub api_key_rotation_days: u32,
    pub default_max_offline_tickets: u64,
}

/// The per-event jurisdiction profile (DESIGN §4). Defaults are the strict choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JurisdictionProfile {
    #[serde(default = "yes")]
    pub price_lock: bool,
    #[serde(default = "yes")]
    pub offline_sales_allowed: bool,
    /// Extra receipt fields this regulator requires beyond DESIGN §5.
    #[serde(default)]
    pub required_receipt_fields: Vec<String>,
    pub responsible_gaming_text: String,
    /// Shown on the receipt, e.g. "Claim by 2026-12-31".
    pub claim_deadline: String,
    pub rules_url: String,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Prize {
    pub id: Uuid,
    pub name: String,
    /// `fixed` or `percentage`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Minor units, for fixed prizes.
    pub value: Option<i64>,
    /// Basis points of the net sales, for percentage prizes.
    pub percentage_bp: Option<u32>,
    pub position: u32,
    pub winner_count: u32,
}

/// The server's latest jackpot figure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JackpotFigure {
    pub amount: i64,
    /// Net sales the server counted for it.
    pub net_sales: i64,
    #[serde(with = "rfc3339_millis")]
    pub as_of: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventConfig {
    pub id: Uuid,
    pub name: String,
    pub event_identifier: String,
    pub state: EventState,
    pub currency: String,
    #[serde(with = "rfc3339_millis")]
    pub sales_start_time: DateTime<Utc>,
    #[serde(with = "rfc3339_millis")]
    pub sales_end_time: DateTime<Utc>,
    #[serde(with = "rfc3339_millis")]
    pub draw_time: DateTime<Utc>,
    /// IANA time zone of the venue, for receipts, e.g. `America/Los_Angeles`.
    pub timezone: String,
    pub venue_name: Option<String>,
    pub jackpot: Option<JackpotRule>,
    pub jackpot_current: Option<JackpotFigure>,
    pub jurisdiction: JurisdictionProfile,
    pub packages: Vec<Package>,
    #[serde(default)]
    pub prizes: Vec<Prize>,
    /// The perks this event's packages include (seed 002 Perk), as the receipt names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perks: Vec<PerkConfig>,
    /// The draw's outcome, once the event is drawn (`completed`); absent before the draw and from
    /// servers older than this field. A device that gets it keeps it and shows it offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<DrawResults>,
}

/// The published outcome of an event's draw (docs/draw.md), as the kiosk shows it and checks
/// tickets against it. When unclaimed prizes were redrawn, every place carries its latest winner
/// (the redraw's), never the one it replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DrawResults {
    /// When the draw ran.
    #[serde(with = "rfc3339_millis")]
    pub drawn_at: DateTime<Utc>,
    /// The jackpot at the draw (minor units of the event currency), `None` without a jackpot rule.
    pub final_jackpot: Option<i64>,
    /// Net sales the draw counted (minor units).
    pub net_sales: i64,
    /// How many tickets were in the draw.
    pub ticket_count: i64,
    /// Every awarded place, by prize position then winner index.
    pub winners: Vec<Winner>,
}

/// One awarded place of a prize and the ticket that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Winner {
    /// The prize's position (1 is drawn first).
    pub position: u32,
    /// 1 … the prize's winner count.
    pub winner_index: u32,
    pub prize_name: String,
    /// What this place pays, minor units of the event currency.
    pub prize_value: i64,
    pub draw_number: u32,
    /// The validation number of the sale that holds the ticket, in canonical form.
    pub validation_number: String,
    /// True when this place was redrawn (its first winner did not claim in time).
    #[serde(default)]
    pub redrawn: bool,
}

/// A draw-number range held by this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AllocationConfig {
    pub id: Uuid,
    pub event_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
    /// `active`, `exhausted`, `released`, or `withheld` (an earlier epoch of this RSU may have
    /// sold from it without syncing: not sold from until an administrator confirms that
    /// journal was synced or imported).
    #[serde(default = "active")]
    pub state: String,
    /// The next number nobody has sold from this range as far as the server knows (one past the
    /// highest number it holds for it); absent from servers before this field existed. The
    /// device never sells below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_number: Option<i64>,
}

/// A perk as the device shows and prints it (seed 002 Perk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PerkConfig {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `benefit`, `physical_item`, `digital_item` or `experience`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub category: String,
    /// True when the perk has a limited inventory: then a sale issues one only from a perk
    /// allocation of this device. Without inventory a perk is issued with every sale.
    pub requires_inventory: bool,
}

/// Units of one perk this device may issue for one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PerkAllocationConfig {
    pub id: Uuid,
    pub perk_id: Uuid,
    pub event_id: Uuid,
    /// Units given to the device (a top-up raises it).
    pub quantity: u32,
    /// `active` or `released` (given back at close: issue nothing more from it).
    #[serde(default = "active")]
    pub state: String,
}

fn active() -> String {
    "active".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Seller,
    Supervisor,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Seller => "seller",
            Role::Supervisor => "supervisor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "seller" => Some(Role::Seller),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperatorConfig {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`, see [`crate::pin`].
    pub pin_hash: String,
    #[serde(default = "yes")]
    pub is_active: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Suspend,
    Resume,
    Close,
}

/// A command from the server, carried out at the device's next contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Command {
    pub id: Uuid,
    pub kind: CommandKind,
    pub event_id: Option<Uuid>,
    #[serde(with = "rfc3339_millis")]
    pub issued_at: DateTime<Utc>,
}
