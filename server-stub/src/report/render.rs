//! The report as text (for people) and CSV (one row per range, for spreadsheets).

use super::*;

// ----------------------------------------------------------------------------------------------
// Text and CSV
// ----------------------------------------------------------------------------------------------

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// A human-readable report for a terminal.
pub fn to_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let e = &r.event;
    let cur = &e.currency;
    let _ = writeln!(
        s,
        "Reconciliation report: {} ({}), event {}",
        e.name, e.event_identifier, e.id
    );
    let _ = writeln!(
        s,
        "State {}; report status: {}; generated {}",
        e.state,
        r.status.to_uppercase(),
        rsu_core::journal::format_time(&r.generated_at)
    );
    if let (Some(at), by) = (
        &e.reconciliation_confirmed_at,
        &e.reconciliation_confirmed_by,
    ) {
        let _ = writeln!(
            s,
            "Reconciliation confirmed {} by {}",
            rsu_core::journal::format_time(at),
            by.as_deref().unwrap_or("(unknown)")
        );
    }
    let t = &r.totals;
    let n = &t.numbers;
    let _ = writeln!(
        s,
        "\nRSUs: {} ({} reconciled, {} pending, {} excluded), {} ranges",
        t.rsus, t.rsus_reconciled, t.rsus_pending, t.rsus_excluded, t.ranges
    );
    let _ = writeln!(
        s,
        "Numbers: allocated {} = sold {} + voided {} + released {} + resolved rejected {} + unaccounted {} + excluded {}",
        n.allocated, n.sold, n.voided, n.released, n.resolved_rejected, n.unaccounted, n.excluded
    );
    let a = &t.amounts.all;
    let _ = writeln!(
        s,
        "Amounts ({cur}): {} orders, {} tickets, gross {}, voided {} ({} orders), net {}",
        a.orders,
        a.tickets,
        money(a.gross),
        money(a.voided),
        a.voided_orders,
        money(a.net)
    );
    for (m, x) in &t.amounts.by_payment_method {
        let _ = writeln!(
            s,
            "  {m:<8} gross {:>12}  voided {:>12}  net {:>12}",
            money(x.gross),
            money(x.voided),
            money(x.net)
        );
    }
    let _ = writeln!(
        s,
        "Late sales: {}; open exceptions: {}",
        t.late_sales, t.open_exceptions
    );
    if let Some(j) = &r.jackpot {
        let _ = writeln!(
            s,
            "Jackpot: {} {cur} (max(seed {}, starting {} + {} bp × net {}))",
            money(j.amount),
            money(j.seed_amount),
            money(j.starting_amount),
            j.percentage_bp,
            money(j.net_sales)
        );
    }
    let p = &r.proceeds;
    let _ = writeln!(
        s,
        "Proceeds: net sales {} − tax {} ({} bp, {}) − prizes {}{} − operating fee {} = {} {cur} to the beneficiary",
        money(p.net_sales),
        money(p.tax),
        p.tax_rate_bp,
        if p.tax_included { "included in prices" } else { "on top" },
        money(p.prizes),
        if p.prizes_drawn { " (drawn)" } else { " (if drawn now)" },
        money(p.operating_fee),
        money(p.net_to_beneficiary)
    );
    if let Some(c) = &r.draw_commitment {
        let _ = writeln!(
            s,
            "Draw commitment: {} (SHA-256 of the secret, committed {})",
            c.commitment,
            rsu_core::journal::format_time(&c.committed_at)
        );
    }
    for x in &r.rsus {
        let _ = writeln!(
            s,
            "\nRSU {} {} [{}] {}",
            x.rsu_no,
            x.name,
            x.status.to_uppercase(),
            x.rsu_id
        );
        if let Some(ex) = &x.exclusion {
            let _ = writeln!(
                s,
                "  excluded {} by {}: {}{}",
                rsu_core::journal::format_time(&ex.excluded_at),
                ex.excluded_by,
                ex.reason,
                if ex.marked_lost { " (marked lost)" } else { "" }
            );
            if !x.excluded_numbers.is_empty() {
                let _ = writeln!(s, "  excluded numbers: {}", x.excluded_numbers.join(", "));
            }
        }
        for rr in &x.reasons {
            let _ = writeln!(s, "  - {}: {}", rr.code, rr.message);
        }
        for g in &x.ranges {
            let _ = writeln!(
                s,
                "  range {}–{}: allocated {}, sold {}, voided {}, released {}, resolved rejected {}, unaccounted {}{}",
                g.start_number,
                g.end_number,
                g.numbers.allocated,
                g.numbers.sold,
                g.numbers.voided,
                g.numbers.released,
                g.numbers.resolved_rejected,
                g.numbers.unaccounted,
                if g.unaccounted_numbers.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", g.unaccounted_numbers.join(", "))
                }
            );
        }
        let a = &x.amounts.all;
        let _ = writeln!(
            s,
            "  amounts: {} orders, gross {}, voided {}, net {}; late sales {}",
            a.orders,
            money(a.gross),
            money(a.voided),
            money(a.net),
            x.late_sales.count
        );
        for ep in &x.sync.epochs {
            let _ = writeln!(
                s,
                "  epoch {}{}: received seq {}, device reported {}, pending at heartbeat {}, chain {}",
                ep.epoch,
                if ep.current { " (current)" } else { "" },
                ep.last_seq_received,
                ep.last_seq_reported
                    .map_or("-".to_string(), |v| v.to_string()),
                ep.pending_at_last_heartbeat
                    .map_or("-".to_string(), |v| v.to_string()),
                if ep.chain_verified {
                    "verified".to_string()
                } else {
                    format!("broken at seq {}", ep.chain_broken_at.unwrap_or(0))
                }
            );
        }
        for ex in &x.exceptions {
            let _ = writeln!(
                s,
                "  {} {} epoch {} seq {} {} {}: {}{}",
                if ex.resolved_at.is_some() {
                    "resolved"
                } else {
                    "OPEN"
                },
                ex.id,
                ex.epoch,
                ex.seq,
                ex.status,
                ex.reason_code.as_deref().unwrap_or(""),
                ex.reason_message.as_deref().unwrap_or(""),
                match (&ex.resolved_by, &ex.resolution_note) {
                    (Some(by), Some(n)) => format!(" — resolved by {by}: {n}"),
                    _ => String::new(),
                }
            );
        }
        for sc in &x.shift_closes {
            let _ = writeln!(
                s,
                "  shift {} closed {}: device {} sales {} / {} voids {}, server {} sales {} / {} voids {}: {}",
                sc.shift_id,
                rsu_core::journal::format_time(&sc.closed_at),
                sc.device.sales_count,
                money(sc.device.sales_amount),
                sc.device.voids_count,
                money(sc.device.voids_amount),
                sc.server.sales_count,
                money(sc.server.sales_amount),
                sc.server.voids_count,
                money(sc.server.voids_amount),
                if sc.matches { "match" } else { "MISMATCH" }
            );
        }
        for pk in &x.perks {
            let _ = writeln!(
                s,
                "  perk {}: allocated {}, issued {}, claimed {}, voided {}, released {}{}",
                pk.perk_name,
                pk.allocated
                    .map_or("- (no inventory)".to_string(), |a| a.to_string()),
                pk.issued,
                pk.claimed,
                pk.voided,
                pk.released,
                if pk.closed { " (closed)" } else { "" }
            );
        }
    }
    let _ = writeln!(s, "\nSellers:");
    if r.sellers.is_empty() {
        let _ = writeln!(s, "  (no sales)");
    }
    for x in &r.sellers {
        let _ = writeln!(
            s,
            "  {:<24} sales {:>6} tickets {:>7} gross {:>12} voids {:>4} ({}) net {:>12}",
            x.name.as_deref().unwrap_or("(unknown)"),
            x.sales,
            x.tickets,
            money(x.gross),
            x.voids,
            money(x.voided),
            money(x.net)
        );
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// One row per range (the per-number accounting), for spreadsheets.
pub fn to_csv(r: &Report) -> String {
    let mut s = String::from(
        "event_identifier,rsu_no,rsu_name,rsu_id,rsu_status,allocation_id,start_number,end_number,allocated,sold,voided,released,resolved_rejected,unaccounted,excluded,unaccounted_numbers\n",
    );
    for x in &r.rsus {
        let excluded = x.status == "excluded";
        for g in &x.ranges {
            let (un, ex) = if excluded {
                (0, g.numbers.unaccounted)
            } else {
                (g.numbers.unaccounted, 0)
            };
            let row = [
                csv_field(&r.event.event_identifier),
                x.rsu_no.to_string(),
                csv_field(&x.name),
                x.rsu_id.to_string(),
                x.status.clone(),
                g.allocation_id.to_string(),
                g.start_number.to_string(),
                g.end_number.to_string(),
                g.numbers.allocated.to_string(),
                g.numbers.sold.to_string(),
                g.numbers.voided.to_string(),
                g.numbers.released.to_string(),
                g.numbers.resolved_rejected.to_string(),
                un.to_string(),
                ex.to_string(),
                csv_field(&g.unaccounted_numbers.join(" ")),
            ];
            s.push_str(&row.join(","));
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
