//! The printer from the command line: its settings and the test page.

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

use super::{open, print_json, printer_for, PrinterChoice};
use crate::printer;

#[derive(Subcommand, Debug)]
pub enum PrinterAction {
    /// Show the printer settings.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set the printer. Examples: `printer set --transport serial --path /dev/ttyUSB0 --baud 38400
    /// --flow-control rts-cts`, `printer set --transport network --host 10.0.0.5`,
    /// `printer set --transport usb --path /dev/usb/lp0 --paper-width 58mm`.
    Set(PrinterSetArgs),
    /// Forget the printer (the CLI prints receipts on the terminal again).
    Clear,
}

#[derive(clap::Args, Debug)]
pub struct PrinterSetArgs {
    #[arg(long, value_enum)]
    pub transport: TransportArg,
    /// Device path (serial, usb, file) or directory (sim).
    #[arg(long)]
    pub path: Option<String>,
    /// Host name or address (network).
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long, default_value_t = 9100)]
    pub port: u16,
    #[arg(long, default_value_t = 38400)]
    pub baud: u32,
    #[arg(long, value_enum, default_value_t = FlowArg::RtsCts)]
    pub flow_control: FlowArg,
    #[arg(long, value_enum, default_value_t = PaperArg::Mm80)]
    pub paper_width: PaperArg,
    /// Kick the cash drawer on this pin after cash sales.
    #[arg(long, value_enum)]
    pub cash_drawer: Option<DrawerArg>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Serial,
    Usb,
    Network,
    File,
    Sim,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlowArg {
    None,
    XonXoff,
    RtsCts,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    #[value(name = "58mm")]
    Mm58,
    #[value(name = "80mm")]
    Mm80,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DrawerArg {
    Pin2,
    Pin5,
}

/// `print-test`: the test page on the configured (or simulated) printer.
pub fn print_test(db: &Path, printer: Option<PrinterChoice>) -> Result<()> {
    let store = open(db)?;
    let printer = match printer_for(db, printer.or(Some(PrinterChoice::Configured)))? {
        Some(p) => p,
        None => bail!("the terminal is not a printer: use --printer sim or configure one with `rsu-app printer set`"),
    };
    let report = printer.print_test_page(&store)?;
    println!(
        "Test page printed on {}{}.",
        report.transport,
        if report.confirmed {
            " (status confirmed)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `printer show|set|clear`.
pub fn printer_command(db: &Path, action: PrinterAction) -> Result<()> {
    use rsu_print::{FlowControl, PaperWidth, PrinterConfig, TransportConfig};
    match action {
        PrinterAction::Show { json } => match printer::load_settings(db)? {
            Some(c) if json => print_json(&c)?,
            Some(c) => {
                println!("Printer:     {}", c.transport.describe());
                println!("Paper width: {}", c.paper_width.label());
                println!(
                    "Cash drawer: {}",
                    c.cash_drawer
                        .map(|p| format!("{p:?}"))
                        .unwrap_or_else(|| "none".into())
                );
                println!("Settings:    {}", printer::settings_path(db).display());
            }
            None => println!(
                "No printer configured: receipts are shown on the terminal. Set one with `rsu-app printer set`."
            ),
        },
        PrinterAction::Set(a) => {
            let need_path = |what: &str| -> Result<String> {
                a.path
                    .clone()
                    .with_context(|| format!("a {what} printer needs --path"))
            };
            let transport = match a.transport {
                TransportArg::Serial => TransportConfig::Serial {
                    path: need_path("serial")?,
                    baud: a.baud,
                    flow_control: match a.flow_control {
                        FlowArg::None => FlowControl::None,
                        FlowArg::XonXoff => FlowControl::XonXoff,
                        FlowArg::RtsCts => FlowControl::RtsCts,
                    },
                    dtr: true,
                },
                TransportArg::Usb => TransportConfig::Usb {
                    path: PathBuf::from(a.path.clone().unwrap_or_else(|| "/dev/usb/lp0".into())),
                    two_way: true,
                },
                TransportArg::Network => TransportConfig::Network {
                    host: a
                        .host
                        .clone()
                        .context("a network printer needs --host (name or address)")?,
                    port: a.port,
                },
                TransportArg::File => TransportConfig::File {
                    path: PathBuf::from(need_path("file")?),
                },
                TransportArg::Sim => TransportConfig::Simulated {
                    dir: a
                        .path
                        .clone()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| printer::sim_dir(db)),
                },
            };
            let config = PrinterConfig {
                transport,
                paper_width: match a.paper_width {
                    PaperArg::Mm58 => PaperWidth::Mm58,
                    PaperArg::Mm80 => PaperWidth::Mm80,
                },
                cash_drawer: a.cash_drawer.map(|d| match d {
                    DrawerArg::Pin2 => rsu_print::DrawerPin::Pin2,
                    DrawerArg::Pin5 => rsu_print::DrawerPin::Pin5,
                }),
                ..PrinterConfig::default()
            };
            let path = printer::save_settings(db, &config)?;
            println!(
                "Printer set: {} ({}), saved in {}",
                config.transport.describe(),
                config.paper_width.label(),
                path.display()
            );
        }
        PrinterAction::Clear => {
            if printer::clear_settings(db)? {
                println!("Printer settings removed: receipts are shown on the terminal.");
            } else {
                println!("No printer was configured.");
            }
        }
    }
    Ok(())
}
