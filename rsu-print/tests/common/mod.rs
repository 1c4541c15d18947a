//! Fixtures shared by the integration tests.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
#![allow(dead_code)]

use chrono::NaiveDate;
use rsu_core::draw::{DrawNumber, DrawRange};
use rsu_core::money::{Currency, Money};
use rsu_print::{SaleReceipt, TestPage, ZPackageLine, ZRangeUse, ZReport};

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::new("USD").unwrap())
}

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, s)
        .unwrap()
}

pub const VALIDATION: &str = "RSU001-2026-000123-K7QF";

/// A standard 5-ticket sale, with an accented operator name and an en dash in the event name.
pub fn sale() -> SaleReceipt {
    SaleReceipt {
        organization_name: "Elite Charity Foundation".into(),
        licence_number: "L-2026-0042".into(),
        event_name: "Stadium 50/50 \u{2013} Final Night".into(),
        event_id: "EVT-2026-0007".into(),
        draw_at: at(2026, 7, 4, 21, 30, 0),
        time_zone: "EDT".into(),
        draw_time_zone: None,
        rsu_id: "RSU001".into(),
        operator_name: "José Müller".into(),
        issued_at: at(2026, 7, 4, 18, 2, 11),
        draw_numbers: (1001..=1005).map(DrawNumber).collect(),
        package_name: "5 for $20".into(),
        package_quantity: 1,
        package_price: usd(2000),
        total: usd(2000),
        payment_method: Some("Cash".into()),
        payment_reference: None,
        validation_number: VALIDATION.into(),
        qr_payload: format!(
            "{VALIDATION}.MEUCIQDk3vJ8bq0n9y4X2l7rQe5sT1uV6wZ8aB0cD2eF4gH6iJ8kLwIgN3oP5qR7sT9uV1wX3yZ5aB7cD9eF1gH3iJ5kL7mN9o"
        ),
        rules_url: "https://elite-raffle.example/rules/EVT-2026-0007".into(),
        claim_deadline: "2026-10-04 (90 days after the draw)".into(),
        responsible_gaming_text:
            "Play responsibly. Must be 18 or older. Help: 1-800-522-4700.".into(),
        reprint: None,
        perks: vec![],
        licensee_address: vec![],
        organization_phone: None,
        venue_name: None,
    }
}

pub fn z_report() -> ZReport {
    ZReport {
        organization_name: "Elite Charity Foundation".into(),
        licence_number: "L-2026-0042".into(),
        event_name: "Stadium 50/50 \u{2013} Final Night".into(),
        event_id: "EVT-2026-0007".into(),
        rsu_id: "RSU001".into(),
        operator_name: "José Müller".into(),
        supervisor_name: Some("Ana Gonçalves".into()),
        shift_id: "SH-0017".into(),
        opened_at: at(2026, 7, 4, 17, 0, 0),
        closed_at: at(2026, 7, 4, 21, 15, 42),
        time_zone: "EDT".into(),
        currency: Currency::new("USD").unwrap(),
        packages: vec![
            ZPackageLine {
                package_name: "1 for $5".into(),
                sales_count: 12,
                sales_amount: usd(6000),
                void_count: 1,
                void_amount: usd(500),
            },
            ZPackageLine {
                package_name: "5 for $20".into(),
                sales_count: 7,
                sales_amount: usd(14000),
                void_count: 0,
                void_amount: usd(0),
            },
        ],
        cash_float: Some(usd(10000)),
        cash_expected: usd(25500),
        first_seq: Some(101),
        last_seq: Some(121),
        chain_head: "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e1a3c5b7d9f1e".into(),
        ranges: vec![ZRangeUse {
            allocation: DrawRange::new(1001, 1100).unwrap(),
            used: (1001..=1047).map(DrawNumber).collect(),
        }],
        reprint: None,
    }
}

pub fn test_page() -> TestPage {
    TestPage {
        device: "RSU001".into(),
        transport: "serial /dev/ttyUSB0 38400 8N1 rts/cts".into(),
        printed_at: at(2026, 7, 4, 16, 45, 0),
        time_zone: "EDT".into(),
    }
}

/// Decodes a PNG (1-bit or 8-bit grayscale) into (width, height, luma).
pub fn read_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let luma = (0..w * h).map(|i| buf[i * channels]).collect();
    (w, h, luma)
}

/// Every QR code found in a PNG, decoded with `rqrr`.
pub fn qr_codes_in_png(bytes: &[u8]) -> Vec<String> {
    let (w, h, luma) = read_png(bytes);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
    img.detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect()
}
