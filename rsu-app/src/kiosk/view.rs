//! View mapping: the store's and the printer's domain values as the text the screens show
//! (`model`'s view structs). Pure functions, no store and no widget: the controllers call them,
//! and the status poller uses [`status_view`] on its own connection.

use chrono::{DateTime, Local, Utc};
use rsu_core::draw::compress_display;
use rsu_core::event::Package;
use rsu_core::money::{Currency, Money};
use rsu_core::payload::ShiftClosePayload;
use rsu_print::{FlowControl, PaperWidth, PrinterConfig, TransportConfig};
use rsu_store::{EventResults, Sale, Shift, Status, StoreError, TicketCheck};
use std::path::{Path, PathBuf};

use super::model::*;
use crate::printer;

/// The printer's state as the status bar shows it, shared with the status poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterState {
    pub text: String,
    pub ok: bool,
}

/// A refusal or failure as the plain sentence the operator reads.
pub fn sentence(e: &StoreError) -> String {
    capitalize(&e.to_string())
}

/// The text with its first letter upper-case.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A time as the kiosk shows it: local hours and minutes.
pub fn local_hm(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

/// A day and time as the kiosk shows it: `2 Dec 14:05`, local time.
pub fn local_day_hm(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%-d %b %H:%M").to_string()
}

/// Parses money typed by a person (`100`, `100.5`, `100.50`) into minor units.
pub fn parse_money(text: &str, currency: Currency) -> Option<i64> {
    let t = text.trim().trim_start_matches('$');
    if t.is_empty() {
        return Some(0);
    }
    let exp = currency.exponent();
    let (whole, frac) = match t.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if frac.len() > exp as usize
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut frac_val: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..exp as usize {
        frac_val *= 10;
    }
    whole.checked_mul(10i64.pow(exp))?.checked_add(frac_val)
}

/// A package as the sell screen's button shows it, with the names of the perks it includes.
pub fn package_view(p: &Package, perks: &[String]) -> PackageView {
    PackageView {
        perks: perks.join(" + "),
        id: p.id.to_string(),
        name: p.name.clone(),
        tickets: if p.ticket_count == 1 {
            "1 ticket".into()
        } else {
            format!("{} tickets", p.ticket_count)
        },
        price: p.price.to_string(),
    }
}

/// A sale as the sell screen's result shows it.
pub fn sale_view(sale: &Sale) -> SaleView {
    SaleView {
        validation_number: sale.validation_number.clone(),
        draw_numbers: compress_display(&sale.draw_numbers),
        summary: format!(
            "{} · {} · {} · {}",
            sale.package_name,
            sale.total,
            sale.payment.method.as_str(),
            local_hm(sale.sold_at)
        ),
    }
}

/// A receipt not confirmed printed, with the sentence saying why.
pub fn failure_view(sale: &Sale, reason: String) -> FailureView {
    FailureView {
        validation_number: sale.validation_number.clone(),
        reason,
        summary: format!(
            "{} · {} · draw numbers {}",
            sale.package_name,
            sale.total,
            compress_display(&sale.draw_numbers)
        ),
    }
}

/// A row of the recent-sales list.
pub fn sale_row(sale: &Sale) -> SaleRowView {
    SaleRowView {
        validation_number: sale.validation_number.clone(),
        package: sale.package_name.clone(),
        total: sale.total.to_string(),
        draw_numbers: compress_display(&sale.draw_numbers),
        state: if sale.voided_at.is_some() {
            if sale.print_state == rsu_store::PrintState::Spoiled {
                "spoiled".into()
            } else {
                "voided".into()
            }
        } else {
            sale.print_state.as_str().replace('_', " ")
        },
        time: local_hm(sale.sold_at),
        voided: sale.voided_at.is_some(),
    }
}

/// The status bar from the store's status and the printer state.
pub fn status_view(status: &Status, printer: &PrinterState, now: DateTime<Utc>) -> StatusView {
    let jackpot = match (status.jackpot_estimate, &status.jackpot_currency) {
        (Some(j), Some(c)) => Currency::new(c)
            .map(|c| Money::new(j, c).to_string())
            .unwrap_or_else(|_| j.to_string()),
        _ => "—".into(),
    };
    let jackpot_as_of = match (status.jackpot_final, status.jackpot_as_of) {
        (true, Some(t)) => format!("drawn {}", local_day_hm(t)),
        (true, None) => "drawn".into(),
        (false, Some(t)) => format!("estimated, as of {}", local_hm(t)),
        (false, None) => "estimated".into(),
    };
    let total: i64 = status
        .allocations
        .iter()
        .map(|a| a.end_number - a.start_number + 1)
        .sum();
    // The sync daemon records each contact; ten minutes without one counts as offline.
    let online = status
        .last_server_contact_at
        .is_some_and(|t| now - t <= chrono::Duration::minutes(10));
    let sync = &status.sync;
    let mut sync_text = format!(
        "{} · {} pending",
        if online { "Online" } else { "Offline" },
        sync.pending_entries
    );
    if let Some(oldest) = sync.oldest_pending_at {
        let mins = (now - oldest).num_minutes().max(0);
        sync_text += &if mins >= 60 {
            format!(" · oldest {} h {} min", mins / 60, mins % 60)
        } else {
            format!(" · oldest {mins} min")
        };
    }
    sync_text += &match sync.last_acked_at.or(status.last_server_contact_at) {
        Some(t) => format!(" · last sync {}", local_hm(t)),
        None => " · last sync never".into(),
    };
    if sync.rejected > 0 {
        sync_text += &format!(" · {} rejected", sync.rejected);
    }
    // A conflict is as much a problem as a rejection: the server kept its own version.
    if sync.conflicts > 0 {
        sync_text += &format!(" · {} in conflict", sync.conflicts);
    }
    StatusView {
        event_name: status
            .event_name
            .clone()
            .unwrap_or_else(|| "No event".into()),
        jackpot_label: if status.jackpot_final {
            "Final jackpot".into()
        } else {
            "Jackpot".into()
        },
        jackpot,
        jackpot_as_of,
        numbers_left: status.numbers_left,
        numbers_total: total,
        numbers_low: status.numbers_left < status.low_water_mark,
        online,
        sync_text,
        pending_entries: sync.pending_entries,
        printer_text: printer.text.clone(),
        printer_ok: printer.ok,
        clock: now.with_timezone(&Local).format("%H:%M").to_string(),
    }
}

/// The open shift's running totals; `None` when they cannot be shown in the event's currency.
pub fn shift_view(operator: String, shift: &Shift, z: &ShiftClosePayload) -> Option<ShiftView> {
    let cur = Currency::new(&z.currency).ok()?;
    let m = |v: i64| Money::new(v, cur).to_string();
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    Some(ShiftView {
        operator_name: operator,
        opened_at: local_hm(shift.opened_at),
        lines: z
            .lines
            .iter()
            .map(|l| ShiftLineView {
                package: l.package_name.clone(),
                sales: l.sales_count.to_string(),
                amount: m(l.sales_amount),
                voids: l.voids_count.to_string(),
            })
            .collect(),
        sales_total: format!(
            "{} · {}",
            plural(z.sales_count, "sale", "sales"),
            m(z.sales_amount)
        ),
        voids_total: format!(
            "{} · {}",
            plural(z.voids_count, "void", "voids"),
            m(z.voids_amount)
        ),
        float: m(z.float_amount),
        cash_expected: m(z.cash_expected),
    })
}

/// The Z report as the shift screen shows it.
pub fn z_summary(z: &ShiftClosePayload) -> String {
    let mut summary = String::new();
    let cur = Currency::new(&z.currency).ok();
    let m = |v: i64| {
        cur.map(|c| Money::new(v, c).to_string())
            .unwrap_or_else(|| v.to_string())
    };
    summary += &format!(
        "Z report · {} – {}\n",
        local_hm(z.opened_at),
        local_hm(z.closed_at)
    );
    for l in &z.lines {
        summary += &format!(
            "{}: {} sold ({}), {} voided\n",
            l.package_name,
            l.sales_count,
            m(l.sales_amount),
            l.voids_count
        );
    }
    summary += &format!(
        "Sales {} · voids {} · cash expected {}",
        m(z.sales_amount),
        m(z.voids_amount),
        m(z.cash_expected)
    );
    summary
}

/// A printer fault in the few words the status bar has room for.
pub fn short_fault(e: &rsu_print::PrintError) -> String {
    use rsu_print::PrintError as E;
    match e {
        E::PaperOut => "out of paper".into(),
        E::CoverOpen => "cover open".into(),
        E::Offline(_) => "offline".into(),
        E::NoAnswer(_) => "not answering".into(),
        E::Timeout(_) => "not taking data".into(),
        E::Disconnected(_) => "disconnected".into(),
        E::Open { .. } => "cannot be opened".into(),
        E::Watchdog(_) => "stuck (reset pending)".into(),
        _ => "error".into(),
    }
}

/// The settings form for a printer configuration.
pub fn form_of(c: &PrinterConfig) -> PrinterForm {
    let paper_width = c.paper_width.label().to_string();
    let form = |transport: &str, path: String, baud: String| PrinterForm {
        transport: transport.into(),
        path,
        baud,
        paper_width: paper_width.clone(),
    };
    match &c.transport {
        TransportConfig::Serial { path, baud, .. } => {
            form("serial", path.clone(), baud.to_string())
        }
        TransportConfig::Usb { path, .. } => {
            form("usb", path.display().to_string(), "38400".into())
        }
        TransportConfig::Network { host, port } => {
            form("network", format!("{host}:{port}"), "38400".into())
        }
        TransportConfig::File { path } => form("file", path.display().to_string(), "38400".into()),
        TransportConfig::Simulated { dir } => {
            form("sim", dir.display().to_string(), "38400".into())
        }
    }
}

/// The settings form with no printer set up.
pub fn default_form() -> PrinterForm {
    PrinterForm {
        transport: "usb".into(),
        path: "/dev/usb/lp0".into(),
        baud: "38400".into(),
        paper_width: "80mm".into(),
    }
}

/// A printer configuration from the settings form, or the sentence saying what to fix.
pub fn config_of(form: &PrinterForm, db: &Path) -> Result<PrinterConfig, String> {
    let path = form.path.trim();
    let paper_width = match form.paper_width.as_str() {
        "58mm" => PaperWidth::Mm58,
        _ => PaperWidth::Mm80,
    };
    let need = |what: &str| -> Result<String, String> {
        if path.is_empty() {
            Err(format!("Enter the {what}."))
        } else {
            Ok(path.to_string())
        }
    };
    let transport = match form.transport.as_str() {
        "serial" => TransportConfig::Serial {
            path: need("serial port, e.g. /dev/ttyUSB0")?,
            baud: form.baud.trim().parse().map_err(|_| {
                format!(
                    "{:?} is not a baud rate: use e.g. 9600, 38400 or 115200.",
                    form.baud
                )
            })?,
            flow_control: FlowControl::RtsCts,
            dtr: true,
        },
        "usb" => TransportConfig::Usb {
            path: PathBuf::from(need("USB printer device, e.g. /dev/usb/lp0")?),
            two_way: true,
        },
        "network" => {
            let hp = need("printer's host name or address")?;
            let (host, port) = match hp.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse()
                        .map_err(|_| format!("{p:?} is not a port number: use e.g. 9100."))?,
                ),
                None => (hp, 9100),
            };
            TransportConfig::Network { host, port }
        }
        "file" => TransportConfig::File {
            path: PathBuf::from(need("file to write")?),
        },
        "sim" => TransportConfig::Simulated {
            dir: if path.is_empty() {
                printer::sim_dir(db)
            } else {
                PathBuf::from(path)
            },
        },
        other => return Err(format!("Unknown printer transport {other:?}.")),
    };
    Ok(PrinterConfig {
        transport,
        paper_width,
        ..PrinterConfig::default()
    })
}

/// The results panel (sell and "Check a ticket" screens): the final jackpot and every winning
/// number with its prize; `available` false when the device has no results.
pub fn results_view(results: Option<&EventResults>) -> ResultsView {
    let Some(r) = results else {
        return ResultsView::default();
    };
    ResultsView {
        available: true,
        title: format!("{} · drawn {}", r.event_name, local_day_hm(r.drawn_at)),
        final_jackpot: r
            .final_jackpot
            .map(|m| m.to_string())
            .unwrap_or_else(|| "—".into()),
        winners: r
            .winners
            .iter()
            .map(|w| ResultLineView {
                prize: w.prize_name.clone(),
                value: w.prize_value.to_string(),
                draw_number: w.draw_number.to_string(),
                redrawn: w.redrawn,
            })
            .collect(),
    }
}

/// What the "Check a ticket" screen says about a ticket.
pub fn ticket_check_view(check: &TicketCheck) -> TicketCheckView {
    match check {
        TicketCheck::Winner {
            validation_number,
            event_name,
            wins,
        } => {
            let prizes: Vec<String> = wins
                .iter()
                .map(|w| format!("{} {}", w.prize_name, w.prize_value))
                .collect();
            let numbers: Vec<String> = wins.iter().map(|w| w.draw_number.to_string()).collect();
            TicketCheckView {
                outcome: CheckOutcome::Winner,
                title: format!("Winner: {}", prizes.join(" and ")),
                detail: format!(
                    "{} {} · {validation_number} · {event_name}. Send the ticket holder to the claim desk with this receipt.",
                    if numbers.len() == 1 { "Draw number" } else { "Draw numbers" },
                    numbers.join(", "),
                ),
            }
        }
        TicketCheck::NotAWinner {
            validation_number,
            event_name,
        } => TicketCheckView {
            outcome: CheckOutcome::NotAWinner,
            title: "Not a winning ticket".into(),
            detail: format!("None of the draw numbers of {validation_number} won in {event_name}."),
        },
        TicketCheck::NoResults => TicketCheckView {
            outcome: CheckOutcome::NoResults,
            title: "Results not yet received \u{2014} sync the device".into(),
            detail: "This device has no draw results yet. Connect it to the network so it pulls them from the server, then check again.".into(),
        },
        TicketCheck::Malformed { input } => TicketCheckView {
            outcome: CheckOutcome::Malformed,
            title: "Not a validation number".into(),
            detail: format!(
                "{input:?} is not a validation number. Type it as printed on the receipt, e.g. RSU001-2026-000123-K7QF (lower case and spaces are fine), or scan the receipt's QR code."
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_typed_by_a_person_parses_to_minor_units() {
        let usd = rsu_core::Currency::new("USD").unwrap();
        assert_eq!(parse_money("100", usd), Some(10_000));
        assert_eq!(parse_money("100.5", usd), Some(10_050));
        assert_eq!(parse_money("$0.05", usd), Some(5));
        assert_eq!(parse_money("", usd), Some(0));
        assert_eq!(parse_money("1.234", usd), None);
        assert_eq!(parse_money("ten", usd), None);
    }

    #[test]
    fn the_printer_form_becomes_a_configuration_or_a_sentence_saying_what_to_fix() {
        let db = std::path::Path::new("/tmp/x/rsu.sqlite3");
        let form = |t: &str, p: &str, b: &str| PrinterForm {
            transport: t.into(),
            path: p.into(),
            baud: b.into(),
            paper_width: "58mm".into(),
        };
        let c = config_of(&form("network", "printer.local:9101", ""), db).unwrap();
        assert_eq!(c.transport.describe(), "tcp printer.local:9101");
        assert_eq!(c.paper_width.label(), "58mm");
        let c = config_of(&form("serial", "/dev/ttyUSB0", "115200"), db).unwrap();
        assert!(c
            .transport
            .describe()
            .starts_with("serial /dev/ttyUSB0 115200"));
        assert!(config_of(&form("serial", "/dev/ttyUSB0", "fast"), db)
            .unwrap_err()
            .contains("baud"));
        assert!(config_of(&form("usb", "", ""), db)
            .unwrap_err()
            .starts_with("Enter"));
        let c = config_of(&form("sim", "", ""), db).unwrap();
        assert_eq!(c.transport.describe(), "simulated /tmp/x/receipts");
    }
}
