//! Benchmark (not a test): size of a standard 5-ticket sale receipt at 58 and 80 mm, the time to
//! compose it (median of many runs), and the serial wire time its bytes imply at 9600, 38400 and
//! 115200 baud (8N1 moves baud / 10 bytes per second).
//!
//! As DESIGN §8 asks, timings are also given as a ratio to a baseline measured in the same run:
//! encoding the receipt's text alone (no layout, no QR sizing). The printer draws the QR code
//! itself; the time to build the same symbol in software is shown for scale.
//!
//! Run: `cargo run --release -p rsu-print --bin rsu-print-bench [-- RUNS]`

use chrono::NaiveDate;
use rsu_core::draw::DrawNumber;
use rsu_core::money::{Currency, Money};
use rsu_print::{compose_sale, PaperWidth, SaleReceipt};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn standard_receipt() -> Result<SaleReceipt, String> {
    let usd = Currency::new("USD").map_err(|e| e.to_string())?;
    let day = NaiveDate::from_ymd_opt(2026, 7, 4).ok_or("bad date")?;
    let at = |h, m, s| day.and_hms_opt(h, m, s).ok_or("bad time");
    let validation = "RSU001-2026-000123-K7QF";
    Ok(SaleReceipt {
        organization_name: "Elite Charity Foundation".into(),
        licence_number: "L-2026-0042".into(),
        event_name: "Stadium 50/50 \u{2013} Final Night".into(),
        event_id: "EVT-2026-0007".into(),
        draw_at: at(21, 30, 0)?,
        time_zone: "EDT".into(),
        draw_time_zone: None,
        rsu_id: "RSU001".into(),
        operator_name: "José Müller".into(),
        issued_at: at(18, 2, 11)?,
        draw_numbers: (1001..=1005).map(DrawNumber).collect(),
        package_name: "5 for $20".into(),
        package_quantity: 1,
        package_price: Money::new(2000, usd),
        total: Money::new(2000, usd),
        payment_method: Some("Cash".into()),
        payment_reference: None,
        validation_number: validation.into(),
        // Validation number plus a base64 Ed25519 signature (86 characters).
        qr_payload: format!("{validation}.{}", "A".repeat(86)),
        rules_url: "https://elite-raffle.example/rules/EVT-2026-0007".into(),
        claim_deadline: "2026-10-04 (90 days after the draw)".into(),
        responsible_gaming_text: "Play responsibly. Must be 18 or older. Help: 1-800-522-4700."
            .into(),
        reprint: None,
        perks: vec![],
        licensee_address: vec![],
        organization_phone: None,
        venue_name: None,
    })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> Duration {
    // Warm up caches and the allocator first.
    for _ in 0..runs.min(100) {
        f();
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    median(samples)
}

fn main() -> Result<(), String> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().map_err(|e| format!("RUNS must be a number: {e}")))
        .transpose()?
        .unwrap_or(5000)
        .max(1);
    let receipt = standard_receipt()?;
    let text: String = [
        receipt.organization_name.as_str(),
        &receipt.event_name,
        &receipt.operator_name,
        &receipt.responsible_gaming_text,
        &receipt.claim_deadline,
        &receipt.rules_url,
    ]
    .join(" ");

    println!("rsu-print-bench: standard 5-ticket sale receipt, {runs} runs, median");
    // Check once that the sample encodes, so the timed loop measures the full encoding.
    rsu_print::text::encode(&text, "bench").map_err(|e| e.to_string())?;
    let baseline = time_runs(runs, || {
        black_box(rsu_print::text::encode(black_box(&text), "bench").ok());
    });
    let payload = receipt.qr_payload.clone();
    let qr = time_runs(runs, || {
        black_box(
            qrcode::QrCode::with_error_correction_level(black_box(&payload), qrcode::EcLevel::M)
                .ok(),
        );
    });
    println!(
        "baseline (encode the receipt's text only): {:.3} µs",
        micros(baseline)
    );
    println!(
        "for scale: building the QR symbol in software (as the decoder does): {:.1} µs",
        micros(qr)
    );
    println!();
    println!(
        "{:<7} {:>6} {:>12} {:>9} {:>10} {:>10} {:>10}",
        "paper", "bytes", "compose µs", "x base", "9600 bd", "38400 bd", "115200 bd"
    );
    for width in [PaperWidth::Mm58, PaperWidth::Mm80] {
        let bytes = compose_sale(&receipt, width).map_err(|e| e.to_string())?;
        let compose = time_runs(runs, || {
            black_box(compose_sale(black_box(&receipt), width).ok());
        });
        let wire = |baud: u64| bytes.len() as f64 / (baud as f64 / 10.0);
        println!(
            "{:<7} {:>6} {:>12.1} {:>9.1} {:>9.3}s {:>9.3}s {:>9.3}s",
            width.label(),
            bytes.len(),
            micros(compose),
            compose.as_secs_f64() / baseline.as_secs_f64().max(1e-12),
            wire(9600),
            wire(38400),
            wire(115200),
        );
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
