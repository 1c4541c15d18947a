//! The demo device, the same demo the server's `server-stub demo-seed` creates.

use chrono::{DateTime, Duration, Utc};
use rsu_core::config::*;
use rsu_core::event::{EventState, JackpotRule, Package};
use rsu_core::money::{Currency, Money};
use uuid::Uuid;

use crate::config::DeviceIdentity;
use crate::StoreError;

/// The demo PINs, printed by `rsu-app demo-init`.
pub const DEMO_SELLER_PIN: &str = "1111";
pub const DEMO_SUPERVISOR_PIN: &str = "9999";

/// The demo device: "Summer Festival Raffle", active from an hour ago for 30 days, packages
/// 1 ticket $5 / 5 tickets $20 / 25 tickets $50, allocations 1001–1100 and 1101–1200, a seller
/// (PIN 1111) and a supervisor (PIN 9999). The server's `server-stub demo-seed` creates the same
/// demo (organization, event, packages and prices, operators, allocations), so a device enrolled
/// with a seeded server sells exactly what the kiosk demo sells.
pub fn demo_config(now: DateTime<Utc>) -> Result<(DeviceIdentity, DeviceConfig), StoreError> {
    let usd = Currency::new("USD").map_err(|e| StoreError::Invalid(e.to_string()))?;
    let id = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n);
    let event_id = id(0x100);
    let pin = |p: &str, salt: &[u8]| {
        rsu_core::pin::hash_pin(p, salt, rsu_core::pin::DEFAULT_ITERATIONS)
            .map_err(|e| StoreError::Invalid(e.to_string()))
    };
    let package = |n: u128, name: &str, count: u32, price: i64, order: i32| Package {
        perk_ids: vec![],
        id: id(0x200 + n),
        name: name.into(),
        ticket_count: count,
        price: Money::new(price, usd),
        display_order: order,
        is_active: true,
        active_from: None,
        active_to: None,
    };
    let sales_end = now + Duration::days(30);
    let draw_time = sales_end + Duration::hours(1);
    let identity = DeviceIdentity {
        rsu_id: id(0x1),
        rsu_no: 1,
        name: "RSU-001 Main Gate (demo)".into(),
        server_url: None,
        key_id: None,
        // A fixed key is fine for the demo: its tickets are not real.
        validation_key_hex: "d3m0d3m0".replace('m', "0").repeat(4),
    };
    let config = DeviceConfig {
        perk_allocations: vec![],
        version: 1,
        organization: OrganizationConfig {
            address: None,
            phone: None,
            id: id(0x2),
            name: "Riverside Community Foundation".into(),
            license_number: "LIC-2026-0042".into(),
            primary_currency: "USD".into(),
            rsu_settings: RsuSettings {
                validation_number_prefix: "RSU".into(),
                default_validation_number_block_size: 100,
                offline_sync_timeout_minutes: 30,
            },
        },
        rsu: RsuConfig {
            id: id(0x1),
            rsu_no: 1,
            name: "RSU-001 Main Gate (demo)".into(),
            max_offline_tickets: Some(500),
            sync_interval_minutes: 5,
            low_water_mark: None,
            last_sale_seq: 0,
        },
        system: SystemRsuSettings {
            offline_sale_expiration_minutes: 1440,
            api_key_rotation_days: 90,
            default_max_offline_tickets: 100,
        },
        events: vec![EventConfig {
            perks: vec![],
            id: event_id,
            name: "Summer Festival Raffle".into(),
            event_identifier: "RAFFLE-2026-001".into(),
            state: EventState::Active,
            currency: "USD".into(),
            sales_start_time: now - Duration::hours(1),
            sales_end_time: sales_end,
            draw_time,
            timezone: "UTC".into(),
            venue_name: Some("Riverside Park".into()),
            jackpot: Some(JackpotRule {
                seed: Money::new(100_000, usd),
                starting: Money::new(0, usd),
                percentage_bp: 5000,
            }),
            jackpot_current: None,
            jurisdiction: JurisdictionProfile {
                price_lock: true,
                offline_sales_allowed: true,
                required_receipt_fields: vec![],
                responsible_gaming_text: "Play responsibly. Help: 1-800-522-4700".into(),
                // Printed after "Claim by " (the same wording as the server's demo-seed).
                claim_deadline: format!(
                    "{} (90 days after the draw)",
                    (draw_time + Duration::days(90)).format("%Y-%m-%d")
                ),
                rules_url: "https://example.org/raffle-rules".into(),
            },
            packages: vec![
                package(1, "1 ticket", 1, 500, 1),
                package(2, "5 tickets", 5, 2000, 2),
                package(3, "25 tickets", 25, 5000, 3),
            ],
            prizes: vec![Prize {
                id: id(0x300),
                name: "50/50 Winner".into(),
                kind: "percentage".into(),
                value: None,
                percentage_bp: Some(5000),
                position: 1,
                winner_count: 1,
            }],
            results: None,
        }],
        allocations: vec![
            AllocationConfig {
                id: id(0x401),
                event_id,
                start_number: 1001,
                end_number: 1100,
                state: "active".into(),
                next_number: None,
            },
            AllocationConfig {
                id: id(0x402),
                event_id,
                start_number: 1101,
                end_number: 1200,
                state: "active".into(),
                next_number: None,
            },
        ],
        operators: vec![
            OperatorConfig {
                id: id(0x501),
                name: "Sam Seller".into(),
                role: Role::Seller,
                pin_hash: pin(DEMO_SELLER_PIN, b"demo-salt-seller")?,
                is_active: true,
            },
            OperatorConfig {
                id: id(0x502),
                name: "Pat Supervisor".into(),
                role: Role::Supervisor,
                pin_hash: pin(DEMO_SUPERVISOR_PIN, b"demo-salt-superv")?,
                is_active: true,
            },
        ],
        commands: vec![],
    };
    Ok((identity, config))
}

/// The demo's configuration after its draw, as version `version`: the event `completed`, with
/// `winners` as its results and a final jackpot of half of `net_sales` (the demo's 50/50 rule).
/// For the screenshots and tests of the kiosk's results and "Check a ticket" screens.
pub fn demo_drawn_config(
    now: DateTime<Utc>,
    version: i64,
    net_sales: i64,
    winners: Vec<Winner>,
) -> Result<DeviceConfig, StoreError> {
    let (_, mut config) = demo_config(now)?;
    config.version = version;
    for ev in &mut config.events {
        ev.state = EventState::Completed;
        ev.results = Some(DrawResults {
            drawn_at: now,
            final_jackpot: Some(net_sales / 2),
            net_sales,
            ticket_count: 200,
            winners: winners.clone(),
        });
    }
    Ok(config)
}
