//! Selling from the command line: sell, void, reprint, spoil, the recent sales, and the crash
//! test's sell loop.

use anyhow::{bail, Result};
use clap::ValueEnum;
use rsu_core::payload::{CustomerInfo, Payment, PaymentMethod};
use rsu_store::{Sale, SaleRequest, Store};
use std::io::Write;
use std::path::Path;

use super::{open, print_json, printer_for, PrinterChoice};
use crate::issue::{issue_sale, Issued, SaleError};
use crate::printer::{IssueError, Printer};
use crate::receipt_text::sale_text;

#[derive(clap::Args, Debug)]
pub struct SellArgs {
    /// Package name (e.g. "5 tickets"), its id, or its ticket count.
    #[arg(long)]
    pub package: String,
    #[arg(long, value_enum, default_value_t = PayArg::Cash)]
    pub payment: PayArg,
    /// Card terminal reference (required for card payments).
    #[arg(long)]
    pub reference: Option<String>,
    #[arg(long)]
    pub customer_name: Option<String>,
    #[arg(long)]
    pub customer_email: Option<String>,
    #[arg(long)]
    pub customer_phone: Option<String>,
    /// Log in with this PIN first (otherwise the logged-in operator sells).
    #[arg(long, env = "RSU_PIN")]
    pub pin: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Where the receipt goes: the configured printer (default when one is set), the terminal,
    /// or the simulated printer (.txt/.png next to the database).
    #[arg(long, value_enum)]
    pub printer: Option<PrinterChoice>,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum PayArg {
    Cash,
    Card,
}

/// What the printer said about a receipt it printed.
fn report_printed(report: &rsu_print::PrintReport) {
    eprintln!(
        "Printed on {}{}.",
        report.transport,
        if report.confirmed {
            " (status confirmed)"
        } else {
            " (one-way printer: not confirmed)"
        }
    );
    for w in &report.warnings {
        eprintln!("Printer warning: {w:?}");
    }
}

/// The error for a committed sale whose receipt did not print: what to do next.
fn not_printed(sale: &Sale, e: &IssueError) -> anyhow::Error {
    anyhow::anyhow!(
        "the receipt for {} did not print: {e}. The sale is recorded; reprint it with `rsu-app reprint {}` or have a supervisor spoil it with `rsu-app spoil {} --supervisor-pin PIN`",
        sale.validation_number,
        sale.validation_number,
        sale.validation_number
    )
}

/// Prints a committed sale's reprint through `printer`, confirming it in the store.
fn issue_on(printer: &Printer, store: &mut Store, sale: &Sale, reprint: Option<u32>) -> Result<()> {
    match printer.issue(store, sale, reprint) {
        Ok((_, report)) => {
            report_printed(&report);
            Ok(())
        }
        Err(e) => Err(not_printed(sale, &e)),
    }
}

fn find_package(store: &Store, wanted: &str) -> Result<uuid::Uuid> {
    let mut stmt = store.connection().prepare(
        "SELECT p.id, p.name, p.ticket_count FROM packages p JOIN events e ON e.id = p.event_id
         WHERE p.is_active = 1 ORDER BY (e.state = 'active') DESC, p.display_order",
    )?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let w = wanted.trim();
    let hit = rows.iter().find(|(id, name, count)| {
        id == w || name.eq_ignore_ascii_case(w) || w.parse::<i64>().ok() == Some(*count)
    });
    match hit {
        Some((id, _, _)) => Ok(uuid::Uuid::parse_str(id)?),
        None => {
            let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            bail!(
                "no package {w:?} on sale: choose one of {}",
                names.join(", ")
            )
        }
    }
}

fn show_sale(store: &Store, sale: &Sale, reprint: Option<u32>, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "id": sale.id,
            "seq": sale.seq,
            "validationNumber": sale.validation_number,
            "drawNumbers": sale.draw_numbers.iter().map(|n| n.0).collect::<Vec<_>>(),
            "package": sale.package_name,
            "ticketCount": sale.ticket_count,
            "total": sale.total.minor,
            "currency": sale.total.currency.code(),
            "printState": sale.print_state.as_str(),
            "reprint": reprint,
            "voided": sale.voided_at.is_some(),
        }));
    }
    let ctx = store.receipt_context(sale)?;
    print!("{}", sale_text(sale, &ctx, reprint));
    Ok(())
}

/// `sell`: a sale for the logged-in operator (or `--pin`), its receipt printed.
pub fn sell(db: &Path, args: SellArgs) -> Result<()> {
    let mut store = open(db)?;
    if let Some(pin) = &args.pin {
        store.login(pin, None)?;
    }
    let package_id = find_package(&store, &args.package)?;
    let method = match args.payment {
        PayArg::Cash => PaymentMethod::Cash,
        PayArg::Card => PaymentMethod::Card,
    };
    let customer = CustomerInfo {
        name: args.customer_name,
        email: args.customer_email,
        phone: args.customer_phone,
    };
    let req = SaleRequest {
        package_id,
        payment: Payment {
            method,
            reference: args.reference,
        },
        customer: Some(customer),
    };
    let printer = printer_for(db, args.printer)?;
    // The receipt is composed inside the sale's transaction: one that could not print
    // completely refuses the sale before it is committed. Without a printer the CLI's
    // "printer" is the terminal: shown, then confirmed.
    let json = args.json;
    let outcome = issue_sale(&mut store, printer.as_ref(), &req, |store, sale| {
        if json {
            Ok(())
        } else {
            show_sale(store, sale, None, false)
        }
    });
    let (sale_id, issued) = match outcome.map_err(|e| *e) {
        Ok(Issued { sale, report }) => {
            if let Some(report) = &report {
                report_printed(report);
            }
            (sale.id, Ok(()))
        }
        Err(SaleError::Refused(e)) => return Err(e.into()),
        Err(SaleError::Interrupted { error, .. }) => return Err(error),
        Err(SaleError::NotPrinted { sale, error }) => {
            let e = match (&printer, error) {
                (None, IssueError::Store(e)) => anyhow::Error::from(e),
                (_, e) => not_printed(&sale, &e),
            };
            (sale.id, Err(e))
        }
    };
    if args.json {
        // After printing, so `printState` says what happened to the receipt
        // (`printed`, or `print_failed` with a non-zero exit).
        show_sale(&store, &store.sale(sale_id)?, None, true)?;
    }
    issued?;
    Ok(())
}

/// `void`: voids a whole sale (supervisor PIN and a reason).
pub fn void(
    db: &Path,
    validation_number: String,
    supervisor_pin: String,
    reason: String,
) -> Result<()> {
    let sale = open(db)?.void(&validation_number, &supervisor_pin, &reason)?;
    println!(
        "Voided {} ({} tickets, {}): {}",
        sale.validation_number, sale.ticket_count, sale.total, reason
    );
    Ok(())
}

/// `reprint`: a receipt again, marked REPRINT n.
pub fn reprint(
    db: &Path,
    validation_number: String,
    supervisor_pin: Option<String>,
    printer: Option<PrinterChoice>,
) -> Result<()> {
    let mut store = open(db)?;
    let printer = printer_for(db, printer)?;
    let (sale, n) = store.reprint(&validation_number, supervisor_pin.as_deref())?;
    show_sale(&store, &sale, Some(n), false)?;
    match &printer {
        None => {
            store.mark_printed(sale.id)?;
        }
        Some(p) => issue_on(p, &mut store, &sale, Some(n))?,
    }
    Ok(())
}

/// `spoil`: spoils a receipt that failed to print (supervisor PIN).
pub fn spoil(db: &Path, validation_number: String, supervisor_pin: String) -> Result<()> {
    let sale = open(db)?.spoil(&validation_number, &supervisor_pin)?;
    println!(
        "Spoiled {}: its draw numbers will not be sold again. Selling can continue.",
        sale.validation_number
    );
    Ok(())
}

/// `sales`: the recent sales, newest first.
pub fn sales(db: &Path, search: Option<String>, limit: usize, json: bool) -> Result<()> {
    let store = open(db)?;
    let sales = store.recent_sales(limit, search.as_deref())?;
    if json {
        let v: Vec<_> = sales.iter().map(|s| serde_json::json!({
            "validationNumber": s.validation_number, "package": s.package_name, "total": s.total.minor,
            "drawNumbers": rsu_core::draw::compress_display(&s.draw_numbers), "printState": s.print_state.as_str(),
            "voided": s.voided_at.is_some(), "soldAt": s.sold_at,
        })).collect();
        print_json(&v)?;
    } else {
        for s in sales {
            println!(
                "{}  {:<11} {:>9}  {:<20} {}{}",
                s.validation_number,
                s.package_name,
                s.total.to_string(),
                rsu_core::draw::compress_display(&s.draw_numbers),
                s.print_state.as_str(),
                if s.voided_at.is_some() { " VOID" } else { "" }
            );
        }
    }
    Ok(())
}

/// `sell-loop`: 1-ticket sales in a loop, each validation number printed after its commit.
pub fn sell_loop(db: &Path, count: Option<u64>) -> Result<()> {
    let mut store = open(db)?;
    let package_id = find_package(&store, "1")?;
    let req = SaleRequest {
        package_id,
        payment: Payment {
            method: PaymentMethod::Cash,
            reference: None,
        },
        customer: None,
    };
    let stdout = std::io::stdout();
    let mut i = 0u64;
    while count.is_none_or(|c| i < c) {
        let sale = store.sell(&req)?;
        {
            let mut lock = stdout.lock();
            writeln!(lock, "{}", sale.validation_number)?;
            lock.flush()?;
        }
        store.mark_printed(sale.id)?;
        i += 1;
    }
    Ok(())
}
