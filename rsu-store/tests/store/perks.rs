//! Perks on the device (issue 14) and the receipt fields a jurisdiction requires: perk units
//! come only from this device's perk allocations (never oversold, even offline), each issued
//! perk carries a claim code that verifies, the rest goes back at close; `requiredReceiptFields`
//! refuses a sale whose receipt would miss one and puts the required ones on the receipt.

use rsu_core::config::{DeviceConfig, PerkAllocationConfig, PerkConfig, Role};
use rsu_core::perk::ClaimCode;
use rsu_core::validation::ValidationKey;
use rsu_store::{Store, DEMO_SELLER_PIN as SELLER, DEMO_SUPERVISOR_PIN as SUPERVISOR};
use uuid::Uuid;

use crate::*;

const VIP: Uuid = Uuid::from_u128(0x9001);
const SCARF: Uuid = Uuid::from_u128(0x9002);
const ALLOC_A: Uuid = Uuid::from_u128(0x9101);
const ALLOC_B: Uuid = Uuid::from_u128(0x9102);

fn perk(id: Uuid, name: &str, requires_inventory: bool) -> PerkConfig {
    PerkConfig {
        id,
        name: name.into(),
        description: String::new(),
        kind: "benefit".into(),
        category: "parking".into(),
        requires_inventory,
    }
}

/// Applies the next configuration version, edited.
fn reconfigure(d: &mut Demo, edit: impl FnOnce(&mut DeviceConfig)) {
    d.config.version += 1;
    edit(&mut d.config);
    assert!(d.store.apply_config(&d.config).unwrap());
}

/// The 5-ticket package includes `perk_ids`; the event describes `perks`; the device holds
/// `allocations`.
/// `allocations` are `(id, perk, quantity)` of the demo event.
fn give_perks(
    d: &mut Demo,
    perks: Vec<PerkConfig>,
    perk_ids: Vec<Uuid>,
    allocations: &[(Uuid, Uuid, u32)],
) {
    reconfigure(d, |c| {
        c.events[0].perks = perks;
        for p in &mut c.events[0].packages {
            if p.ticket_count == 5 {
                p.perk_ids = perk_ids.clone();
            }
        }
        c.perk_allocations = allocations
            .iter()
            .map(|(id, perk, q)| allocation_for(c, *id, *perk, *q))
            .collect();
    });
}

fn key(store: &Store) -> ValidationKey {
    let hex: String = store
        .connection()
        .query_row("SELECT validation_key_hex FROM device", [], |r| r.get(0))
        .unwrap();
    ValidationKey::from_hex(&hex).unwrap()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Everything a sale writes, to show that a refused one wrote nothing.
fn footprint(store: &Store) -> Vec<i64> {
    [
        "SELECT count(*) FROM journal",
        "SELECT count(*) FROM sales",
        "SELECT count(*) FROM sale_numbers",
        "SELECT count(*) FROM sale_perks",
        "SELECT sale_seq FROM device",
        "SELECT sum(next_number) FROM allocations",
        "SELECT coalesce(sum(issued), 0) FROM perk_allocations",
        "SELECT tickets FROM pending_tickets",
    ]
    .iter()
    .map(|q| count(store, q))
    .collect()
}

fn issued(store: &Store, id: Uuid) -> (u32, u32, String) {
    let a = store
        .perk_allocations()
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    (a.quantity, a.issued, a.state)
}

/// The `perks` of the sale's journal entry.
fn journal_perks(store: &Store, validation_number: &str) -> serde_json::Value {
    let body: String = store
        .connection()
        .query_row(
            "SELECT body_json FROM journal WHERE kind = 'sale' AND body_json LIKE ?1",
            [format!("%{validation_number}%")],
            |r| r.get(0),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["payload"]["perks"].clone()
}

#[test]
fn a_sale_issues_a_perk_from_the_allocation_and_its_claim_code_verifies() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![perk(VIP, "VIP Parking", true)],
        vec![VIP],
        &[(ALLOC_A, VIP, 3)],
    );
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    assert_eq!(sale.perks.len(), 1);
    let p = &sale.perks[0];
    assert_eq!(
        (p.perk_id, p.perk_allocation_id, p.perk_name.as_str()),
        (VIP, Some(ALLOC_A), "VIP Parking")
    );
    let body = sale.validation_number.rsplit_once('-').unwrap().0;
    assert!(
        p.claim_code.starts_with(&format!("{body}-P1-")),
        "{}",
        p.claim_code
    );
    let code = ClaimCode::parse(&p.claim_code).unwrap();
    code.verify(&key(&d.store), VIP).expect("a genuine code");
    assert!(code.verify(&key(&d.store), SCARF).is_err());
    assert_eq!(issued(&d.store, ALLOC_A), (3, 1, "active".into()));
    // The journal entry carries it for the server, and the sale as read back has it.
    let j = journal_perks(&d.store, &sale.validation_number);
    assert_eq!(j[0]["claimCode"], p.claim_code.as_str());
    assert_eq!(j[0]["perkAllocationId"], ALLOC_A.to_string());
    assert_eq!(
        d.store.find_sale(&sale.validation_number).unwrap().perks,
        sale.perks
    );
    // A package without perks issues none.
    let plain = sell_ok(&mut d, 1);
    assert!(plain.perks.is_empty());
    assert!(journal_perks(&d.store, &plain.validation_number).is_null());
    // The sell screen names the perks of each package.
    assert_eq!(
        d.store.package_perk_names(d.package(5)).unwrap(),
        vec!["VIP Parking".to_string()]
    );
    assert!(d.store.package_perk_names(d.package(1)).unwrap().is_empty());
    let on_sale = d.store.packages_on_sale().unwrap();
    let five = on_sale.iter().find(|p| p.ticket_count == 5).unwrap();
    assert_eq!(five.perk_ids, vec![VIP]);
}

#[test]
fn the_last_unit_sells_the_next_sale_is_refused_with_nothing_written_and_a_top_up_sells_again() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![perk(VIP, "VIP Parking", true)],
        vec![VIP],
        &[(ALLOC_A, VIP, 1)],
    );
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 5); // the last unit
    let before = footprint(&d.store);
    let e = d.store.sell(&cash(package(&d, 5))).unwrap_err();
    assert_eq!(e.code(), "perk_unavailable", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("5 tickets") && text.contains("VIP Parking") && text.contains("Sync"),
        "{text}"
    );
    assert_eq!(footprint(&d.store), before, "a refused sale writes nothing");
    assert_eq!(issued(&d.store, ALLOC_A), (1, 1, "active".into()));
    // Other packages still sell.
    sell_ok(&mut d, 1);
    // A lower quantity from the server never goes below what was issued...
    reconfigure(&mut d, |c| c.perk_allocations[0].quantity = 0);
    assert_eq!(issued(&d.store, ALLOC_A), (1, 1, "active".into()));
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "perk_unavailable"
    );
    // ... and a top-up lets the package sell again, exactly once more.
    reconfigure(&mut d, |c| c.perk_allocations[0].quantity = 2);
    assert_eq!(issued(&d.store, ALLOC_A), (2, 1, "active".into()));
    let again = sell_ok(&mut d, 5);
    assert_eq!(again.perks[0].perk_allocation_id, Some(ALLOC_A));
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "perk_unavailable"
    );
    // A new allocation is a top-up too; `released` stops issuing from it.
    reconfigure(&mut d, |c| {
        let mut b = allocation_for(c, ALLOC_B, VIP, 5);
        b.state = "released".into();
        c.perk_allocations.push(b);
    });
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "perk_unavailable"
    );
    reconfigure(&mut d, |c| {
        c.perk_allocations.pop();
        c.perk_allocations
            .push(allocation_for(c, Uuid::from_u128(0x9103), VIP, 1));
    });
    let from_new = sell_ok(&mut d, 5);
    assert_eq!(
        from_new.perks[0].perk_allocation_id,
        Some(Uuid::from_u128(0x9103))
    );
    assert_eq!(issued(&d.store, ALLOC_B), (5, 0, "released".into()));
}

fn allocation_for(c: &DeviceConfig, id: Uuid, perk: Uuid, quantity: u32) -> PerkAllocationConfig {
    PerkAllocationConfig {
        id,
        perk_id: perk,
        event_id: c.events[0].id,
        quantity,
        state: "active".into(),
    }
}

#[test]
fn a_perk_without_inventory_is_issued_with_every_sale_from_no_allocation() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![perk(SCARF, "Team Scarf", false)],
        vec![SCARF],
        &[],
    );
    d.store.login(SELLER, None).unwrap();
    let mut codes = std::collections::HashSet::new();
    for _ in 0..4 {
        let sale = sell_ok(&mut d, 5);
        assert_eq!(sale.perks.len(), 1);
        assert_eq!(sale.perks[0].perk_allocation_id, None);
        assert_eq!(sale.perks[0].perk_name, "Team Scarf");
        ClaimCode::parse(&sale.perks[0].claim_code)
            .unwrap()
            .verify(&key(&d.store), SCARF)
            .unwrap();
        assert!(
            codes.insert(sale.perks[0].claim_code.clone()),
            "codes are unique"
        );
    }
    let j = journal_perks(
        &d.store,
        &d.store.recent_sales(1, None).unwrap()[0].validation_number,
    );
    assert!(j[0]["perkAllocationId"].is_null(), "{j}");
}

#[test]
fn two_perks_on_one_package_get_p1_and_p2_in_the_packages_order() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![
            perk(VIP, "VIP Parking", true),
            perk(SCARF, "Team Scarf", false),
        ],
        vec![SCARF, VIP],
        &[(ALLOC_A, VIP, 5)],
    );
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    let names: Vec<&str> = sale.perks.iter().map(|p| p.perk_name.as_str()).collect();
    assert_eq!(names, ["Team Scarf", "VIP Parking"]);
    assert!(
        sale.perks[0].claim_code.contains("-P1-"),
        "{:?}",
        sale.perks
    );
    assert!(
        sale.perks[1].claim_code.contains("-P2-"),
        "{:?}",
        sale.perks
    );
    let k = key(&d.store);
    ClaimCode::parse(&sale.perks[0].claim_code)
        .unwrap()
        .verify(&k, SCARF)
        .unwrap();
    ClaimCode::parse(&sale.perks[1].claim_code)
        .unwrap()
        .verify(&k, VIP)
        .unwrap();
    assert_eq!(
        (
            sale.perks[0].perk_allocation_id,
            sale.perks[1].perk_allocation_id
        ),
        (None, Some(ALLOC_A))
    );
    // The same perk twice on one package takes two units.
    reconfigure(&mut d, |c| {
        for p in &mut c.events[0].packages {
            if p.ticket_count == 5 {
                p.perk_ids = vec![VIP, VIP];
            }
        }
    });
    let twice = sell_ok(&mut d, 5);
    assert_eq!(twice.perks.len(), 2);
    assert_eq!(issued(&d.store, ALLOC_A), (5, 3, "active".into()));
    // Only one unit left: the two-unit package is refused whole, the unit stays.
    reconfigure(&mut d, |c| c.perk_allocations[0].quantity = 4);
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "perk_unavailable"
    );
    assert_eq!(issued(&d.store, ALLOC_A), (4, 3, "active".into()));
}

#[test]
fn the_sale_keeps_its_perks_through_a_reprint_and_a_void() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![perk(VIP, "VIP Parking", true)],
        vec![VIP],
        &[(ALLOC_A, VIP, 2)],
    );
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    let (again, n) = d
        .store
        .reprint(&sale.validation_number, Some(SUPERVISOR))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        again.perks, sale.perks,
        "a reprint prints the same perks and codes"
    );
    let voided = d
        .store
        .void(
            &sale.validation_number,
            SUPERVISOR,
            "customer changed their mind",
        )
        .unwrap();
    assert_eq!(voided.perks, sale.perks);
    // A voided sale's unit stays issued: the desk decides on the claim, the device never reissues.
    assert_eq!(issued(&d.store, ALLOC_A), (2, 1, "active".into()));
}

#[test]
fn a_required_licensee_address_refuses_the_sale_without_one_and_prints_its_lines_with_one() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    // Not required: an address on file is not printed (the receipt is as it was).
    reconfigure(&mut d, |c| {
        c.organization.address = Some("12 Harbour Road\nPortsmouth".into())
    });
    let s = sell_ok(&mut d, 1);
    let ctx = d.store.receipt_context(&s).unwrap();
    assert_eq!(
        ctx.organization_address.as_deref(),
        Some("12 Harbour Road\nPortsmouth")
    );
    assert!(ctx.required_extras().licensee_address.is_empty());
    // Required and missing: refused, naming the field, nothing sold.
    reconfigure(&mut d, |c| {
        c.organization.address = None;
        c.events[0].jurisdiction.required_receipt_fields = vec!["licenseeAddress".into()];
    });
    let before = footprint(&d.store);
    let e = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    assert_eq!(e.code(), "receipt_incomplete", "{e}");
    assert!(e.to_string().contains("the licensee's address"), "{e}");
    assert_eq!(footprint(&d.store), before);
    // Blank lines are no address either.
    reconfigure(&mut d, |c| c.organization.address = Some(" \n ".into()));
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 1)))),
        "receipt_incomplete"
    );
    // Required and present: sold, and the receipt carries its lines.
    reconfigure(&mut d, |c| {
        c.organization.address = Some("12 Harbour Road\n\nPortsmouth PO1 2AB\n".into())
    });
    let s = sell_ok(&mut d, 1);
    let extras = d.store.receipt_context(&s).unwrap().required_extras();
    assert_eq!(
        extras.licensee_address,
        ["12 Harbour Road", "Portsmouth PO1 2AB"]
    );
    assert_eq!((extras.venue_name, extras.organization_phone), (None, None));
}

#[test]
fn required_venue_operator_and_phone_refuse_when_blank_and_are_on_the_receipt_when_set() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    // Venue: the demo event has one, but it is printed only when required.
    let s = sell_ok(&mut d, 1);
    assert_eq!(
        d.store
            .receipt_context(&s)
            .unwrap()
            .required_extras()
            .venue_name,
        None
    );
    reconfigure(&mut d, |c| {
        c.events[0].jurisdiction.required_receipt_fields = vec!["venueName".into()];
        c.events[0].venue_name = None;
    });
    let e = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    assert!(e.to_string().contains("the venue name"), "{e}");
    reconfigure(&mut d, |c| {
        c.events[0].venue_name = Some("Riverside Park".into())
    });
    let s = sell_ok(&mut d, 1);
    let extras = d.store.receipt_context(&s).unwrap().required_extras();
    assert_eq!(extras.venue_name.as_deref(), Some("Riverside Park"));

    // The organization's phone.
    reconfigure(&mut d, |c| {
        c.events[0].jurisdiction.required_receipt_fields = vec!["organizationPhone".into()];
    });
    let e = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    assert!(
        e.to_string().contains("the organization's phone number"),
        "{e}"
    );
    reconfigure(&mut d, |c| {
        c.organization.phone = Some("+1 555 0100".into())
    });
    let s = sell_ok(&mut d, 1);
    let extras = d.store.receipt_context(&s).unwrap().required_extras();
    assert_eq!(extras.organization_phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(
        extras.venue_name, None,
        "no longer required, so not printed"
    );

    // The selling operator's name.
    reconfigure(&mut d, |c| {
        c.events[0].jurisdiction.required_receipt_fields = vec!["operatorName".into()];
        for o in &mut c.operators {
            if o.role == Role::Seller {
                o.name = "  ".into();
            }
        }
    });
    let before = footprint(&d.store);
    let e = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    assert!(e.to_string().contains("the operator's name"), "{e}");
    assert_eq!(footprint(&d.store), before);
    reconfigure(&mut d, |c| {
        for o in &mut c.operators {
            if o.role == Role::Seller {
                o.name = "Sam Seller".into();
            }
        }
    });
    let s = sell_ok(&mut d, 1);
    assert_eq!(
        d.store.receipt_context(&s).unwrap().operator_name,
        "Sam Seller"
    );

    // A field this kiosk does not know how to print is refused rather than left off.
    reconfigure(&mut d, |c| {
        c.events[0].jurisdiction.required_receipt_fields = vec!["shoeSize".into()];
    });
    let e = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    assert!(e.to_string().contains("shoeSize"), "{e}");
}

#[test]
fn closing_writes_one_perk_release_per_allocation_with_the_right_counts_and_no_perk_sells_after() {
    let mut d = demo();
    give_perks(
        &mut d,
        vec![perk(VIP, "VIP Parking", true)],
        vec![VIP],
        &[(ALLOC_A, VIP, 3), (ALLOC_B, VIP, 2)],
    );
    d.store.login(SELLER, None).unwrap();
    for _ in 0..4 {
        sell_ok(&mut d, 5); // three from A, then one from B
    }
    assert_eq!(issued(&d.store, ALLOC_A), (3, 3, "active".into()));
    assert_eq!(issued(&d.store, ALLOC_B), (2, 1, "active".into()));
    let report = d.store.close_device(SUPERVISOR).unwrap();
    let counts: Vec<(Uuid, u32, u32)> = report
        .perks_released
        .iter()
        .map(|p| (p.perk_allocation_id, p.issued, p.released))
        .collect();
    assert_eq!(counts, vec![(ALLOC_A, 3, 0), (ALLOC_B, 1, 1)]);
    let bodies: Vec<serde_json::Value> = {
        let mut stmt = d
            .store
            .connection()
            .prepare("SELECT body_json FROM journal WHERE kind = 'perk_release' ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|b| serde_json::from_str(&b.unwrap()).unwrap())
            .collect()
    };
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[1]["payload"]["perkAllocationId"],
        ALLOC_B.to_string()
    );
    assert_eq!(bodies[1]["payload"]["issued"], 1);
    assert_eq!(bodies[1]["payload"]["released"], 1);
    assert_eq!(bodies[1]["payload"]["perkId"], VIP.to_string());
    assert_eq!(issued(&d.store, ALLOC_B), (2, 1, "released".into()));
    d.store
        .verify_journal()
        .expect("the chain holds the new kind");
    // Nothing more is sold, and a later configuration cannot reopen a released allocation.
    reconfigure(&mut d, |c| c.perk_allocations[1].quantity = 10);
    assert_eq!(issued(&d.store, ALLOC_B).2, "released");
    d.store.login(SELLER, None).unwrap();
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "device_closed"
    );
}

#[test]
fn an_old_configuration_without_perks_or_address_still_applies_and_sells() {
    let mut d = demo();
    // The configuration as a server from before perks sends it: none of the new keys.
    let mut v = serde_json::to_value(&d.config).unwrap();
    v["version"] = serde_json::json!(d.config.version + 1);
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in ["perks", "perkIds", "perkAllocations", "address", "phone"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    let old: DeviceConfig = serde_json::from_value(v).unwrap();
    assert!(d.store.apply_config(&old).unwrap());
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    assert!(sale.perks.is_empty());
    // Its entry hashes as sales always did: no perks key at all.
    let body: String = d
        .store
        .connection()
        .query_row(
            "SELECT body_json FROM journal WHERE kind = 'sale'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!body.contains("perks"), "{body}");
    let ctx = d.store.receipt_context(&sale).unwrap();
    assert_eq!(
        (ctx.organization_address, ctx.organization_phone),
        (None, None)
    );
}

#[test]
fn a_version_8_database_keeps_its_journal_and_triggers_through_the_perks_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v8.sqlite3");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        for sql in [
            include_str!("../../../migrations/device/0001_init.sql"),
            include_str!("../../../migrations/device/0002_sync.sql"),
            include_str!("../../../migrations/device/0003_device_life.sql"),
            include_str!("../../../migrations/device/0004_device_extras.sql"),
            include_str!("../../../migrations/device/0005_close.sql"),
            include_str!("../../../migrations/device/0006_receipt_qr.sql"),
            include_str!("../../../migrations/device/0007_draw_results.sql"),
            include_str!("../../../migrations/device/0008_pending_tickets.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "INSERT INTO journal (epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash)
                 VALUES (1, 1, 'e1', 'sale', '2026-01-01T00:00:00.000Z', '{}', zeroblob(32), zeroblob(32));
             INSERT INTO events (id, name, identifier, state, currency, sales_start, sales_end, draw_time, timezone, jurisdiction_json)
                 VALUES ('ev', 'E', 'E-1', 'active', 'USD', 'a', 'b', 'c', 'UTC', '{}');
             INSERT INTO sales (id, epoch, seq, event_id, package_id, package_name, ticket_count, unit_price_minor, total_minor,
                                currency, validation_number, sale_seq, operator_id, payment_method, sold_at)
                 VALUES ('s1', 1, 1, 'ev', 'p', 'P', 5, 100, 100, 'USD', 'V-1', 1, 'o', 'cash', 't');",
        )
        .unwrap();
        c.pragma_update(None, "user_version", 8).unwrap();
    }
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 9);
    assert_eq!(
        count(&s, "SELECT count(*) FROM journal WHERE entry_id = 'e1'"),
        1
    );
    assert_eq!(count(&s, "SELECT tickets FROM pending_tickets"), 5);
    assert_eq!(
        count(&s, "PRAGMA foreign_keys"),
        1,
        "foreign keys are back on"
    );
    // The triggers made again still keep the unsynced-ticket total.
    s.connection()
        .execute(
            "UPDATE journal SET sync_status = 'applied' WHERE seq = 1",
            [],
        )
        .unwrap();
    assert_eq!(count(&s, "SELECT tickets FROM pending_tickets"), 0);
    // The journal takes the new kind, and still refuses an unknown one.
    let insert = |seq: i64, kind: &str| {
        s.connection().execute(
            "INSERT INTO journal (epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash)
             VALUES (1, ?1, ?2, ?3, 't', '{}', zeroblob(32), zeroblob(32))",
            rusqlite::params![seq, format!("e{seq}"), kind],
        )
    };
    insert(2, "perk_release").unwrap();
    assert!(insert(3, "perk_claim").is_err());
}

/// `sell` builds the sale it returns and the receipt context it checks from what it read and
/// wrote, without reading them back (issue 16: each statement a sale runs costs time): both
/// must be exactly what `Store::sale` and `Store::receipt_context` read from the database, for
/// a sale with perks, a card reference, customer details and a clock with sub-millisecond time.
#[test]
fn the_sale_sell_returns_is_the_sale_the_store_reads_back() {
    use rsu_core::payload::{CustomerInfo, Payment, PaymentMethod};
    let mut d = demo();
    give_perks(
        &mut d,
        vec![
            perk(VIP, "VIP Parking", true),
            perk(SCARF, "Team Scarf", false),
        ],
        vec![SCARF, VIP],
        &[(ALLOC_A, VIP, 5)],
    );
    reconfigure(&mut d, |c| {
        c.organization.address = Some("1 Stadium Way\nSpringfield".into());
        c.organization.phone = Some("555-0100".into());
        c.events[0].jurisdiction.required_receipt_fields =
            vec!["licenseeAddress".into(), "operatorName".into()];
    });
    d.store.login(SELLER, None).unwrap();
    let at = d.t0 + chrono::Duration::seconds(90) + chrono::Duration::nanoseconds(123_456);
    assert_ne!(at.timestamp_subsec_nanos() % 1_000_000, 0);
    d.store.set_fixed_now(Some(at));
    let mut req = cash(package(&d, 5));
    req.payment = Payment {
        method: PaymentMethod::Card,
        reference: Some("AUTH-0042".into()),
    };
    req.customer = Some(CustomerInfo {
        name: Some("Ada Lovelace".into()),
        email: Some("ada@example.org".into()),
        phone: None,
    });
    let mut checked = None;
    let sale = d
        .store
        .sell_checked(&req, |_, ctx| {
            checked = Some(format!("{ctx:?}"));
            Ok(())
        })
        .unwrap();
    assert_eq!(sale.perks.len(), 2);
    assert_eq!(sale.draw_numbers.len(), 5);
    assert_eq!(sale, d.store.sale(sale.id).unwrap());
    let read_back = d.store.receipt_context(&sale).unwrap();
    assert_eq!(checked.unwrap(), format!("{read_back:?}"));
    assert!(read_back.organization_address.is_some());
}
