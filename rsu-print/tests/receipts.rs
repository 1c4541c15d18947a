//! Receipt composition: golden transcripts, required fields, text encoding, QR codes.
//!
//! Regenerate the golden files (and the PNGs under docs/receipts/) with
//! `UPDATE_GOLDEN=1 cargo test -p rsu-print --test receipts`, then review the diff.

#![allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.

mod common;

use common::*;
use rsu_print::decode::{decode, render_png};
use rsu_print::receipt::NEED_NOT_BE_PRESENT;
use rsu_print::{
    check_complete, compose_sale, compose_test_page, compose_z_report, required_fields_missing,
    PaperWidth, ReceiptError,
};
use std::path::PathBuf;

const WIDTHS: [PaperWidth; 2] = [PaperWidth::Mm58, PaperWidth::Mm80];

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `actual` with the committed file, or rewrites it under UPDATE_GOLDEN=1.
fn golden(path: PathBuf, actual: &[u8]) {
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run UPDATE_GOLDEN=1 cargo test -p rsu-print --test receipts",
            path.display()
        )
    });
    if expected != actual {
        let shown = String::from_utf8_lossy(actual);
        panic!(
            "{} differs from the output (run UPDATE_GOLDEN=1 to accept it after review). Actual:\n{shown}",
            path.display()
        );
    }
}

fn golden_transcript(name: &str, bytes: &[u8]) {
    let d = decode(bytes);
    assert!(
        d.unknown.is_empty(),
        "{name}: unknown commands {:?}",
        d.unknown
    );
    golden(
        crate_dir().join("tests/golden").join(format!("{name}.txt")),
        d.transcript.as_bytes(),
    );
}

#[test]
fn sale_receipt_matches_its_golden_transcript_at_both_widths() {
    for w in WIDTHS {
        golden_transcript(
            &format!("sale-{}", w.label()),
            &compose_sale(&sale(), w).unwrap(),
        );
    }
}

#[test]
fn reprint_matches_its_golden_transcript_at_both_widths() {
    let mut r = sale();
    r.reprint = Some(2);
    for w in WIDTHS {
        golden_transcript(
            &format!("reprint-{}", w.label()),
            &compose_sale(&r, w).unwrap(),
        );
    }
}

#[test]
fn z_report_matches_its_golden_transcript_at_both_widths() {
    for w in WIDTHS {
        golden_transcript(
            &format!("z-report-{}", w.label()),
            &compose_z_report(&z_report(), w).unwrap(),
        );
    }
}

#[test]
fn test_page_matches_its_golden_transcript_at_both_widths() {
    for w in WIDTHS {
        golden_transcript(
            &format!("test-page-{}", w.label()),
            &compose_test_page(&test_page(), w).unwrap(),
        );
    }
}

#[test]
fn the_docs_pngs_are_the_current_rendering_of_the_sale_receipt() {
    for w in WIDTHS {
        let png = render_png(&compose_sale(&sale(), w).unwrap(), w).unwrap();
        golden(
            crate_dir()
                .join("../docs/receipts")
                .join(format!("sale-{}.png", w.label())),
            &png,
        );
    }
}

#[test]
fn every_required_field_is_on_the_sale_receipt() {
    let r = sale();
    for w in WIDTHS {
        let d = decode(&compose_sale(&r, w).unwrap());
        let text = d.lines.join("\n");
        // Joined without line breaks too, for values the layout wraps.
        let flat: String = d
            .lines
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ");
        // And with nothing between lines, for identifiers broken at the line width.
        let joined: String = d.lines.concat();
        for needle in [
            "Elite Charity Foundation",
            "Licence L-2026-0042",
            "Stadium 50/50 \u{2013} Final Night",
            "Event EVT-2026-0007",
            "Draw 2026-07-04 21:30 EDT",
            "RSU001",
            "José Müller",
            "2026-07-04 18:02:11 EDT",
            "1001\u{2013}1005",
            "5 for $20",
            "1 x $20.00",
            "$20.00",
            "TOTAL",
            VALIDATION,
            "https://elite-raffle.example/rules/EVT-2026-0007",
            NEED_NOT_BE_PRESENT,
            "Claim by 2026-10-04 (90 days after the draw)",
            "Play responsibly. Must be 18 or older. Help: 1-800-522-4700.",
        ] {
            assert!(
                text.contains(needle) || flat.contains(needle) || joined.contains(needle),
                "{}: {needle:?} missing from\n{text}",
                w.label()
            );
        }
        assert_eq!(d.qr_codes, vec![r.qr_payload.clone()]);
        assert_eq!(d.cuts, 1);
        assert!(!text.contains("REPRINT"));
        for line in &d.lines {
            assert!(
                line.chars().count() <= w.columns(),
                "{}: line too long: {line:?}",
                w.label()
            );
        }
    }
}

#[test]
fn a_reprint_says_reprint_n_at_the_top_and_the_bottom() {
    let mut r = sale();
    r.reprint = Some(3);
    let d = decode(&compose_sale(&r, PaperWidth::Mm58).unwrap());
    let reprints: Vec<_> = d.lines.iter().filter(|l| l.trim() == "REPRINT 3").collect();
    assert_eq!(reprints.len(), 2, "{:?}", d.lines);
    assert_eq!(d.lines.first().map(String::as_str), Some("REPRINT 3"));
    // Otherwise the same receipt: the original's lines all appear, in order.
    let original = decode(&compose_sale(&sale(), PaperWidth::Mm58).unwrap());
    let mut it = d.lines.iter();
    for line in &original.lines {
        assert!(
            it.any(|l| l == line),
            "line {line:?} missing or out of order in the reprint"
        );
    }
}

#[test]
fn composing_is_deterministic() {
    assert_eq!(
        compose_sale(&sale(), PaperWidth::Mm80),
        compose_sale(&sale(), PaperWidth::Mm80)
    );
}

#[test]
fn a_hyphen_is_sent_as_0x2d_and_never_as_a_soft_hyphen() {
    let bytes = compose_sale(&sale(), PaperWidth::Mm80).unwrap();
    // Windows-1252 is selected with ESC t 16, right after ESC @.
    assert_eq!(&bytes[..5], &[0x1B, b'@', 0x1B, b't', 16]);
    assert!(!bytes.contains(&0xAD), "soft hyphen (CP1252) in the job");
    assert!(!bytes.contains(&0xF0), "soft hyphen (PC850) in the job");
    let needle = b"L-2026-0042";
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
    let d = decode(&bytes);
    assert!(d
        .lines
        .iter()
        .any(|l| l.contains("RSU001-2026-000123-K7QF")));
    assert!(d.lines.iter().any(|l| l.contains("1-800-522-4700")));
}

#[test]
fn accented_names_print_as_their_cp1252_letters() {
    let mut r = sale();
    r.operator_name = "José Müller".into();
    r.organization_name = "Fondation Hélène Gagné-Côté".into();
    let bytes = compose_sale(&r, PaperWidth::Mm58).unwrap();
    let jose = [
        b'J', b'o', b's', 0xE9, b' ', b'M', 0xFC, b'l', b'l', b'e', b'r',
    ];
    assert!(bytes.windows(jose.len()).any(|w| w == jose));
    let d = decode(&bytes);
    assert!(d.lines.iter().any(|l| l.contains("José Müller")));
    assert!(d
        .lines
        .iter()
        .any(|l| l.contains("Fondation Hélène Gagné-Côté")));
    // The en dash of the compressed range is 0x96 in Windows-1252.
    let range = b"1001\x961005";
    assert!(bytes.windows(range.len()).any(|w| w == range));
}

#[test]
fn the_qr_code_in_the_png_decodes_to_the_validation_number_at_both_widths() {
    for w in WIDTHS {
        let png = render_png(&compose_sale(&sale(), w).unwrap(), w).unwrap();
        let (width, _, _) = read_png(&png);
        assert_eq!(width, w.dots() as usize);
        let codes = qr_codes_in_png(&png);
        assert_eq!(codes.len(), 1, "{}: found {codes:?}", w.label());
        assert!(
            codes[0].starts_with(VALIDATION),
            "{}: {}",
            w.label(),
            codes[0]
        );
        assert_eq!(codes[0], sale().qr_payload);
    }
}

#[test]
fn a_receipt_missing_required_fields_is_refused_before_the_sale() {
    let mut r = sale();
    r.licence_number = " ".into();
    r.rules_url.clear();
    r.claim_deadline.clear();
    r.responsible_gaming_text.clear();
    r.draw_numbers.clear();
    assert_eq!(
        required_fields_missing(&r),
        vec![
            "licenceNumber",
            "rulesUrl",
            "claimDeadline",
            "responsibleGamingText",
            "drawNumbers"
        ]
    );
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm58),
        Err(ReceiptError::MissingFields(f)) if f.len() == 5
    ));
    assert!(required_fields_missing(&sale()).is_empty());
    assert_eq!(check_complete(&sale(), PaperWidth::Mm58), Ok(()));
}

#[test]
fn each_required_text_field_on_its_own_is_checked() {
    type Setter = fn(&mut rsu_print::SaleReceipt);
    let cases: [(&str, Setter); 13] = [
        ("organizationName", |r| r.organization_name.clear()),
        ("licenceNumber", |r| r.licence_number.clear()),
        ("eventName", |r| r.event_name.clear()),
        ("eventId", |r| r.event_id.clear()),
        ("timeZone", |r| r.time_zone.clear()),
        ("rsuId", |r| r.rsu_id.clear()),
        ("operatorName", |r| r.operator_name.clear()),
        ("packageName", |r| r.package_name.clear()),
        ("validationNumber", |r| r.validation_number.clear()),
        ("qrPayload", |r| r.qr_payload.clear()),
        ("rulesUrl", |r| r.rules_url.clear()),
        ("claimDeadline", |r| r.claim_deadline.clear()),
        ("responsibleGamingText", |r| {
            r.responsible_gaming_text.clear()
        }),
    ];
    for (name, clear) in cases {
        let mut r = sale();
        clear(&mut r);
        assert_eq!(required_fields_missing(&r), vec![name]);
        assert!(
            compose_sale(&r, PaperWidth::Mm80).is_err(),
            "{name} blank but composed"
        );
    }
}

#[test]
fn inconsistent_or_unprintable_sales_are_refused() {
    let mut r = sale();
    r.total = usd(2500);
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm80),
        Err(ReceiptError::Inconsistent { field: "total", .. })
    ));

    let mut r = sale();
    r.qr_payload = "something-else".into();
    assert_eq!(
        check_complete(&r, PaperWidth::Mm80),
        Err(ReceiptError::QrWithoutValidationNumber)
    );

    let mut r = sale();
    r.operator_name = "Bob \u{1b}@".into();
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm80),
        Err(ReceiptError::ControlCharacter {
            field: "operatorName",
            ..
        })
    ));

    let mut r = sale();
    r.event_name = "Raffle \u{1F39F}".into();
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm80),
        Err(ReceiptError::Unprintable {
            field: "eventName",
            ..
        })
    ));

    let mut r = sale();
    r.draw_numbers.push(rsu_core::draw::DrawNumber(1003));
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm80),
        Err(ReceiptError::Inconsistent {
            field: "drawNumbers",
            ..
        })
    ));

    let mut r = sale();
    r.qr_payload = format!("{VALIDATION}.{}", "A".repeat(400));
    assert!(matches!(
        check_complete(&r, PaperWidth::Mm58),
        Err(ReceiptError::QrTooLong { .. })
    ));
}

#[test]
fn a_sale_spanning_two_allocations_prints_both_ranges() {
    let mut r = sale();
    r.draw_numbers = [1099, 1100, 1201, 1202, 1203]
        .into_iter()
        .map(rsu_core::draw::DrawNumber)
        .collect();
    let d = decode(&compose_sale(&r, PaperWidth::Mm58).unwrap());
    assert!(
        d.lines
            .iter()
            .any(|l| l == "1099\u{2013}1100, 1201\u{2013}1203"),
        "{:?}",
        d.lines
    );
}

#[test]
fn the_z_report_adds_up_and_shows_the_chain() {
    let d = decode(&compose_z_report(&z_report(), PaperWidth::Mm80).unwrap());
    let text = d.lines.join("\n");
    for needle in [
        "Z REPORT",
        "SH-0017",
        "19 / $200.00",
        "1 / $5.00",
        "$195.00",
        "$255.00",
        "101",
        "121",
        "1001\u{2013}1047",
        "47 used",
        "Ana Gonçalves",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    assert!(d
        .lines
        .iter()
        .any(|l| l.contains("9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c")));
}

/// The receipt's lines joined without line breaks (for values the 58 mm layout wraps).
fn flat_text(bytes: &[u8]) -> String {
    decode(bytes)
        .lines
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_named_venue_zone_prints_local_times_with_est_in_winter_and_edt_in_summer() {
    use chrono::{TimeZone, Utc};
    // Sold on a winter evening in Toronto, drawn on a summer night: two different offsets.
    let sold = Utc.with_ymd_and_hms(2026, 1, 15, 23, 2, 11).unwrap();
    let draw = Utc.with_ymd_and_hms(2026, 7, 5, 1, 30, 0).unwrap();
    let (issued_at, issued_tz) = rsu_print::venue_time(sold, "America/Toronto");
    let (draw_at, draw_tz) = rsu_print::venue_time(draw, "America/Toronto");
    let mut r = sale();
    r.issued_at = issued_at;
    r.time_zone = issued_tz;
    r.draw_at = draw_at;
    r.draw_time_zone = Some(draw_tz);
    for w in WIDTHS {
        let text = flat_text(&compose_sale(&r, w).unwrap());
        // 23:02 UTC is 18:02 EST the same day; 01:30 UTC on 5 July is 21:30 EDT on 4 July.
        for needle in [
            "2026-01-15 18:02:11 EST (UTC-05:00)",
            "Draw 2026-07-04 21:30 EDT (UTC-04:00)",
        ] {
            assert!(
                text.contains(needle),
                "{}: {needle:?} missing from\n{text}",
                w.label()
            );
        }
    }
    // Both in summer: one label for both, and a fixed offset still prints as before.
    let (at, tz) = rsu_print::venue_time(draw, "-04:00");
    assert_eq!(
        (at.format("%Y-%m-%d %H:%M").to_string(), tz.as_str()),
        ("2026-07-04 21:30".into(), "UTC-04:00")
    );
}

#[test]
fn the_claim_line_never_reads_claim_by_claim() {
    assert_eq!(
        rsu_print::claim_line("2026-10-04 (90 days after the draw)"),
        "Claim by 2026-10-04 (90 days after the draw)"
    );
    assert_eq!(
        rsu_print::claim_line("Claim within 90 days of the draw (2027-03-31)"),
        "Claim within 90 days of the draw (2027-03-31)"
    );
    let mut r = sale();
    r.claim_deadline = "Claim within 90 days of the draw".into();
    let text = flat_text(&compose_sale(&r, PaperWidth::Mm80).unwrap());
    assert!(text.contains("Claim within 90 days of the draw"), "{text}");
    assert!(!text.contains("Claim by Claim"), "{text}");
}

#[test]
fn perks_print_with_their_claim_codes_in_order_on_the_sale_and_its_reprint() {
    let mut r = sale();
    r.perks = vec![
        rsu_print::ReceiptPerk {
            name: "VIP Parking".into(),
            claim_code: "RSU001-2026-000123-P1-7KQF9M".into(),
        },
        rsu_print::ReceiptPerk {
            name: "Team Scarf".into(),
            claim_code: "RSU001-2026-000123-P2-3HX0AB".into(),
        },
    ];
    for reprint in [None, Some(1)] {
        r.reprint = reprint;
        for w in WIDTHS {
            let text = flat_text(&compose_sale(&r, w).unwrap());
            let first = text.find("VIP Parking").expect("the first perk");
            let code1 = text.find("RSU001-2026-000123-P1-7KQF9M").expect("its code");
            let second = text.find("Team Scarf").expect("the second perk");
            let code2 = text.find("RSU001-2026-000123-P2-3HX0AB").expect("its code");
            assert!(first < code1 && code1 < second && second < code2, "{text}");
            assert_eq!(
                text.matches(rsu_print::CLAIM_AT_THE_DESK).count(),
                2,
                "{}: {text}",
                w.label()
            );
        }
    }
    // Without perks the receipt is as it always was (the golden transcripts hold that too).
    let plain = flat_text(&compose_sale(&sale(), PaperWidth::Mm80).unwrap());
    assert!(!plain.contains("Perk") && !plain.contains(rsu_print::CLAIM_AT_THE_DESK));
}

#[test]
fn address_phone_and_venue_print_only_when_given() {
    let plain = flat_text(&compose_sale(&sale(), PaperWidth::Mm80).unwrap());
    assert!(
        !plain.contains("Tel.") && !plain.contains("Venue"),
        "{plain}"
    );
    let mut r = sale();
    r.licensee_address = vec!["12 Harbour Road".into(), "Portsmouth PO1 2AB".into()];
    r.organization_phone = Some("+44 23 9200 0000".into());
    r.venue_name = Some("Fratton Park".into());
    for w in WIDTHS {
        let lines: Vec<String> = decode(&compose_sale(&r, w).unwrap())
            .lines
            .iter()
            .map(|l| l.trim().to_string())
            .collect();
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l == needle)
                .unwrap_or_else(|| panic!("{needle:?} not a line of {lines:#?}"))
        };
        let licence = at("Licence L-2026-0042");
        assert_eq!(at("12 Harbour Road"), licence + 1);
        assert_eq!(at("Portsmouth PO1 2AB"), licence + 2);
        assert_eq!(at("Tel. +44 23 9200 0000"), licence + 3);
        assert_eq!(at("Venue Fratton Park"), at("Event EVT-2026-0007") + 1);
    }
}
