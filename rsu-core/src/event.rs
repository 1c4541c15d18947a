//! Event states, packages with optional price windows, the sale preconditions and the jackpot.

use crate::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The state machine of seed 000 (DESIGN §4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    Created,
    Configured,
    Active,
    Suspended,
    SalesClosed,
    Reconciling,
    Reconciled,
    DrawingReady,
    Completed,
    Cancelled,
}

impl EventState {
    pub const ALL: [EventState; 10] = [
        EventState::Created,
        EventState::Configured,
        EventState::Active,
        EventState::Suspended,
        EventState::SalesClosed,
        EventState::Reconciling,
        EventState::Reconciled,
        EventState::DrawingReady,
        EventState::Completed,
        EventState::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventState::Created => "created",
            EventState::Configured => "configured",
            EventState::Active => "active",
            EventState::Suspended => "suspended",
            EventState::SalesClosed => "sales_closed",
            EventState::Reconciling => "reconciling",
            EventState::Reconciled => "reconciled",
            EventState::DrawingReady => "drawing_ready",
            EventState::Completed => "completed",
            EventState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EventState> {
        EventState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether `self → to` is a transition of the state machine.
    pub fn can_transition_to(self, to: EventState) -> bool {
        use EventState::*;
        match (self, to) {
            (Created, Configured)
            | (Configured, Active)
            | (Active, Suspended)
            | (Suspended, Active)
            | (Active, SalesClosed)
            | (Suspended, SalesClosed)
            | (SalesClosed, Reconciling)
            | (Reconciling, Reconciled)
            | (Reconciled, DrawingReady)
            | (DrawingReady, Completed) => true,
            (from, Cancelled) => !matches!(from, Completed | Cancelled),
            _ => false,
        }
    }

    /// From `reconciled` on, the server rejects new sales with `event_reconciled`.
    pub fn is_reconciled_or_later(self) -> bool {
        matches!(
            self,
            EventState::Reconciled | EventState::DrawingReady | EventState::Completed
        )
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket package as the device sells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub id: Uuid,
    pub name: String,
    pub ticket_count: u32,
    pub price: Money,
    pub display_order: i32,
    pub is_active: bool,
    pub active_from: Option<DateTime<Utc>>,
    pub active_to: Option<DateTime<Utc>>,
    /// The perks a sale of this package issues, one unit each, in receipt order (seed 000
    /// `ticket_packages.perk_ids`); their details are in the event's `perks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perk_ids: Vec<uuid::Uuid>,
}

impl Package {
    /// Active and inside its window, if it has one.
    pub fn available_at(&self, now: DateTime<Utc>) -> bool {
        self.is_active
            && self.active_from.is_none_or(|from| now >= from)
            && self.active_to.is_none_or(|to| now < to)
    }
}

/// Everything the sale preconditions look at, gathered by the store inside the sale's transaction.
#[derive(Clone, Debug)]
pub struct SaleContext {
    pub now: DateTime<Utc>,
    pub operator_logged_in: bool,
    pub event_state: EventState,
    pub sales_start: DateTime<Utc>,
    pub sales_end: DateTime<Utc>,
    /// A `suspend` command from the server that has not been lifted.
    pub suspended_by_server: bool,
    pub package_available: bool,
    pub ticket_count: u32,
    /// Draw numbers left in all of this device's allocations for the event.
    pub numbers_left: u64,
    /// Tickets in sales not yet acknowledged by the server.
    pub unsynced_tickets: u64,
    pub max_offline_tickets: Option<u64>,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub offline_expiration_minutes: Option<i64>,
    /// A sale whose receipt is not confirmed printed and not spoiled.
    pub print_unresolved: bool,
    /// The jurisdiction requires a live server (`offlineSalesAllowed = false`) and there is none.
    pub offline_forbidden: bool,
}

/// Why the device refused a sale; each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaleRefusal {
    #[error("No operator is logged in. Log in with your PIN to sell.")]
    NotLoggedIn,
    #[error("The event is {0}, not active. Sales resume when the raffle manager activates it.")]
    EventNotActive(EventState),
    #[error("Sales are suspended by the raffle manager. Wait for them to resume.")]
    Suspended,
    #[error("Sales open at {0}. Wait until then.")]
    SalesNotOpenYet(DateTime<Utc>),
    #[error("Sales closed at {0}. No more tickets can be sold for this event.")]
    SalesClosed(DateTime<Utc>),
    #[error("This package is not on sale now. Choose another package.")]
    PackageInactive,
    #[error("Not enough draw numbers left ({left} left, {needed} needed). Connect to the network for more, or sell a smaller package.")]
    AllocationExhausted { left: u64, needed: u64 },
    #[error("Offline ticket limit reached ({unsynced} unsynced + {requested} would exceed {limit}). Connect to the network so sales can sync.")]
    OfflineLimitReached {
        unsynced: u64,
        requested: u64,
        limit: u64,
    },
    #[error("Unsynced sales are older than {minutes} minutes. Connect to the network so they sync before selling more.")]
    SyncRequired { minutes: i64 },
    #[error("The last receipt did not print. Reprint it, or have a supervisor spoil it, before selling.")]
    PrintUnresolved,
    #[error("This event does not allow offline sales and the server cannot be reached. Restore the network connection.")]
    OfflineNotAllowed,
    #[error("The receipt would be missing {0}. Ask the raffle manager to complete the event setup; nothing was sold.")]
    ReceiptIncomplete(String),
    #[error("This device was closed for the event and its unused draw numbers were given back. No more tickets can be sold on it.")]
    DeviceClosed,
    #[error("The {package} package includes {perk}, and this device has none left to give. Sync the device to get more, or sell another package.")]
    PerkUnavailable { package: String, perk: String },
}

impl SaleRefusal {
    /// The stable machine-readable code (also used on the wire and in the CLI's JSON).
    pub fn code(&self) -> &'static str {
        match self {
            SaleRefusal::NotLoggedIn => "not_logged_in",
            SaleRefusal::EventNotActive(_) => "event_not_active",
            SaleRefusal::Suspended => "event_suspended",
            SaleRefusal::SalesNotOpenYet(_) => "sales_not_open_yet",
            SaleRefusal::SalesClosed(_) => "sales_closed",
            SaleRefusal::PackageInactive => "package_inactive",
            SaleRefusal::AllocationExhausted { .. } => "allocation_exhausted",
            SaleRefusal::OfflineLimitReached { .. } => "offline_limit_reached",
            SaleRefusal::SyncRequired { .. } => "sync_required",
            SaleRefusal::PrintUnresolved => "print_unresolved",
            SaleRefusal::OfflineNotAllowed => "offline_not_allowed",
            SaleRefusal::ReceiptIncomplete(_) => "receipt_incomplete",
            SaleRefusal::DeviceClosed => "device_closed",
            SaleRefusal::PerkUnavailable { .. } => "perk_unavailable",
        }
    }
}

/// Checks every precondition of a sale, in the order an operator would want to hear them.
pub fn check_sale(c: &SaleContext) -> Result<(), SaleRefusal> {
    if !c.operator_logged_in {
        return Err(SaleRefusal::NotLoggedIn);
    }
    if c.print_unresolved {
        return Err(SaleRefusal::PrintUnresolved);
    }
    if c.event_state == EventState::Suspended
        || (c.suspended_by_server && c.event_state == EventState::Active)
    {
        return Err(SaleRefusal::Suspended);
    }
    if c.event_state != EventState::Active {
        return Err(SaleRefusal::EventNotActive(c.event_state));
    }
    if c.now < c.sales_start {
        return Err(SaleRefusal::SalesNotOpenYet(c.sales_start));
    }
    if c.now > c.sales_end {
        return Err(SaleRefusal::SalesClosed(c.sales_end));
    }
    if c.offline_forbidden {
        return Err(SaleRefusal::OfflineNotAllowed);
    }
    if !c.package_available {
        return Err(SaleRefusal::PackageInactive);
    }
    let needed = u64::from(c.ticket_count);
    if c.numbers_left < needed {
        return Err(SaleRefusal::AllocationExhausted {
            left: c.numbers_left,
            needed,
        });
    }
    if let Some(limit) = c.max_offline_tickets {
        if c.unsynced_tickets + needed > limit {
            return Err(SaleRefusal::OfflineLimitReached {
                unsynced: c.unsynced_tickets,
                requested: needed,
                limit,
            });
        }
    }
    if let (Some(oldest), Some(minutes)) = (c.oldest_pending_at, c.offline_expiration_minutes) {
        if c.now - oldest > chrono::Duration::minutes(minutes) {
            return Err(SaleRefusal::SyncRequired { minutes });
        }
    }
    Ok(())
}

/// Jackpot settings of a 50/50 event. The percentage is in basis points (5000 = 50 %) so that no
/// floating point touches money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JackpotRule {
    pub seed: Money,
    pub starting: Money,
    pub percentage_bp: u32,
}

/// `max(seed, starting + percentage × net sales)`, rounded down to the minor unit.
pub fn jackpot(rule: &JackpotRule, net_sales: Money) -> Result<Money, crate::money::MoneyError> {
    let share = i128::from(net_sales.minor) * i128::from(rule.percentage_bp) / 10_000;
    let share = i64::try_from(share).map_err(|_| crate::money::MoneyError::Overflow)?;
    let pot = rule
        .starting
        .checked_add(Money::new(share, net_sales.currency))?;
    Ok(if pot.minor >= rule.seed.minor {
        pot
    } else {
        rule.seed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ok_ctx() -> SaleContext {
        SaleContext {
            now: t("2026-06-28T12:00:00Z"),
            operator_logged_in: true,
            event_state: EventState::Active,
            sales_start: t("2026-06-28T09:00:00Z"),
            sales_end: t("2026-06-30T18:00:00Z"),
            suspended_by_server: false,
            package_available: true,
            ticket_count: 5,
            numbers_left: 100,
            unsynced_tickets: 0,
            max_offline_tickets: Some(100),
            oldest_pending_at: None,
            offline_expiration_minutes: Some(1440),
            print_unresolved: false,
            offline_forbidden: false,
        }
    }

    #[test]
    fn a_sale_with_every_precondition_met_is_allowed() {
        assert_eq!(check_sale(&ok_ctx()), Ok(()));
    }

    #[test]
    fn each_failed_precondition_gives_its_own_refusal() {
        type Mutation = Box<dyn Fn(&mut SaleContext)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|c| c.operator_logged_in = false), "not_logged_in"),
            (Box::new(|c| c.print_unresolved = true), "print_unresolved"),
            (
                Box::new(|c| c.event_state = EventState::Suspended),
                "event_suspended",
            ),
            (
                Box::new(|c| c.suspended_by_server = true),
                "event_suspended",
            ),
            (
                Box::new(|c| c.event_state = EventState::Configured),
                "event_not_active",
            ),
            (
                Box::new(|c| c.now = c.sales_start - Duration::seconds(1)),
                "sales_not_open_yet",
            ),
            (
                Box::new(|c| c.now = c.sales_end + Duration::seconds(1)),
                "sales_closed",
            ),
            (
                Box::new(|c| c.offline_forbidden = true),
                "offline_not_allowed",
            ),
            (
                Box::new(|c| c.package_available = false),
                "package_inactive",
            ),
            (Box::new(|c| c.numbers_left = 4), "allocation_exhausted"),
            (
                Box::new(|c| c.unsynced_tickets = 96),
                "offline_limit_reached",
            ),
            (
                Box::new(|c| c.oldest_pending_at = Some(c.now - Duration::minutes(1441))),
                "sync_required",
            ),
        ];
        for (mutate, code) in cases {
            let mut c = ok_ctx();
            mutate(&mut c);
            let refusal = check_sale(&c).unwrap_err();
            assert_eq!(refusal.code(), code, "{refusal}");
            assert!(
                refusal.to_string().ends_with('.'),
                "a refusal is a sentence: {refusal}"
            );
        }
    }

    #[test]
    fn the_offline_limit_counts_the_new_sale_and_is_inclusive() {
        let mut c = ok_ctx();
        c.unsynced_tickets = 95;
        assert_eq!(
            check_sale(&c),
            Ok(()),
            "95 + 5 = 100 is at the limit, allowed"
        );
        c.unsynced_tickets = 96;
        assert!(matches!(
            check_sale(&c),
            Err(SaleRefusal::OfflineLimitReached {
                unsynced: 96,
                requested: 5,
                limit: 100
            })
        ));
    }

    #[test]
    fn the_state_machine_allows_only_documented_transitions() {
        use EventState::*;
        assert!(Created.can_transition_to(Configured));
        assert!(Active.can_transition_to(Suspended) && Suspended.can_transition_to(Active));
        assert!(!Created.can_transition_to(Active));
        assert!(!Reconciled.can_transition_to(Active));
        assert!(!SalesClosed.can_transition_to(Active));
        assert!(DrawingReady.can_transition_to(Cancelled));
        assert!(!Completed.can_transition_to(Cancelled));
        for s in EventState::ALL {
            assert_eq!(EventState::parse(s.as_str()), Some(s));
            assert!(!s.can_transition_to(s), "{s} to itself");
        }
    }

    #[test]
    fn package_windows_are_half_open() {
        let usd = Currency::new("USD").unwrap();
        let p = Package {
            id: Uuid::nil(),
            name: "Value".into(),
            ticket_count: 5,
            price: Money::new(2000, usd),
            display_order: 1,
            is_active: true,
            active_from: Some(t("2026-06-28T09:00:00Z")),
            active_to: Some(t("2026-06-28T15:00:00Z")),
            perk_ids: vec![],
        };
        assert!(!p.available_at(t("2026-06-28T08:59:59Z")));
        assert!(p.available_at(t("2026-06-28T09:00:00Z")));
        assert!(!p.available_at(t("2026-06-28T15:00:00Z")));
        let inactive = Package {
            is_active: false,
            active_from: None,
            active_to: None,
            ..p
        };
        assert!(!inactive.available_at(t("2026-06-28T12:00:00Z")));
    }

    #[test]
    fn jackpot_is_the_larger_of_seed_and_share_of_net_sales() {
        let usd = Currency::new("USD").unwrap();
        let rule = JackpotRule {
            seed: Money::new(100_000, usd),
            starting: Money::new(0, usd),
            percentage_bp: 5000,
        };
        assert_eq!(
            jackpot(&rule, Money::new(10_000, usd)).unwrap().minor,
            100_000
        );
        assert_eq!(
            jackpot(&rule, Money::new(300_001, usd)).unwrap().minor,
            150_000
        );
        let rule2 = JackpotRule {
            starting: Money::new(50_000, usd),
            ..rule
        };
        assert_eq!(
            jackpot(&rule2, Money::new(200_000, usd)).unwrap().minor,
            150_000
        );
    }
}
