//! A plain-text rendering of a sale for the terminal. The printed receipt itself is composed by
//! `rsu-print`; this is what the CLI shows an operator.

use rsu_core::draw::compress_display;
use rsu_store::{ReceiptContext, Sale};

/// The sale as a short text block, 42 columns wide.
pub fn sale_text(sale: &Sale, ctx: &ReceiptContext, reprint: Option<u32>) -> String {
    let mut out = String::new();
    let line = "-".repeat(42);
    if let Some(n) = reprint {
        out.push_str(&format!("*** REPRINT {n} ***\n"));
    }
    let extras = ctx.required_extras();
    out.push_str(&format!(
        "{}\nLicence {}\n",
        ctx.organization_name, ctx.license_number
    ));
    for l in &extras.licensee_address {
        out.push_str(&format!("{l}\n"));
    }
    if let Some(phone) = &extras.organization_phone {
        out.push_str(&format!("Tel. {phone}\n"));
    }
    out.push_str(&format!("{line}\n"));
    let (draw_at, draw_tz) = rsu_print::venue_time(ctx.draw_time, &ctx.timezone);
    let (issued_at, issued_tz) = rsu_print::venue_time(sale.sold_at, &ctx.timezone);
    out.push_str(&format!(
        "{} ({})\nDraw: {} {}\n",
        ctx.event_name,
        ctx.event_identifier,
        draw_at.format("%Y-%m-%d %H:%M"),
        draw_tz
    ));
    if let Some(venue) = &extras.venue_name {
        out.push_str(&format!("Venue {venue}\n"));
    }
    out.push_str(&format!("{}\n", line));
    out.push_str(&format!(
        "{} ({} tickets)  {}\n",
        sale.package_name, sale.ticket_count, sale.total
    ));
    out.push_str(&format!(
        "Draw numbers: {}\n",
        compress_display(&sale.draw_numbers)
    ));
    out.push_str(&format!(
        "Paid: {}{}\n",
        sale.payment.method.as_str(),
        sale.payment
            .reference
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ));
    for p in &sale.perks {
        out.push_str(&format!(
            "Perk: {}\n  {} {}\n",
            p.perk_name,
            rsu_print::CLAIM_AT_THE_DESK,
            p.claim_code
        ));
    }
    out.push_str(&format!("Validation: {}\n", sale.validation_number));
    out.push_str(&format!("{}\n", line));
    out.push_str(&format!(
        "RSU {} ({:03}) - {}\nIssued {} {}\n",
        ctx.rsu_name,
        ctx.rsu_no,
        ctx.operator_name,
        issued_at.format("%Y-%m-%d %H:%M:%S"),
        issued_tz
    ));
    out.push_str(&format!(
        "Rules: {}\nTicket holders need not be present to win.\n{}\n{}\n",
        ctx.jurisdiction.rules_url,
        rsu_print::claim_line(&ctx.jurisdiction.claim_deadline),
        ctx.jurisdiction.responsible_gaming_text
    ));
    out
}
