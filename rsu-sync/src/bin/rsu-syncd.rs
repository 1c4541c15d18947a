//! `rsu-syncd`: the device's headless sync daemon. Thin: parsing, logging, signals and exit
//! codes; everything else is in the `rsu_sync` library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use rsu_sync::lock::{DaemonLock, LockError};
use rsu_sync::{Engine, Settings};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when another daemon already works on the database.
const EXIT_LOCKED: u8 = 3;
/// Exit code of `--once` when the round worked but entries are still pending, or it failed.
const EXIT_NOT_SYNCED: u8 = 2;

/// Sync daemon of an Elite Raffle sales unit: delivers the device's journal (sales, voids, shift
/// reports) to the server, pulls configuration and draw-number allocations, and keeps the
/// device's clock offset. Sales never wait for it: they are committed locally first and stay in
/// the journal until the server has answered each one.
#[derive(Parser, Debug)]
#[command(name = "rsu-syncd", version, after_help = AFTER_HELP)]
struct Cli {
    /// The device database (the same file the kiosk uses).
    #[arg(long, global = true, env = "RSU_DB")]
    db: Option<PathBuf>,
    /// The server's base URL; overrides the one stored at enrollment. Required for `enroll`.
    #[arg(long, global = true, env = "RSU_SERVER")]
    server: Option<String>,
    /// A TOML settings file (see docs/sync.md); RSU_* variables and flags win over it.
    #[arg(long, global = true, env = "RSU_SYNCD_CONFIG")]
    config: Option<PathBuf>,
    /// Do one sync round and exit: 0 if everything is synced, 2 if not, 3 if another daemon runs.
    #[arg(long)]
    once: bool,
    /// With --once: print the round's report as JSON.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

const AFTER_HELP: &str = "\
Examples:
  rsu-syncd enroll --db /var/lib/rsu/rsu.sqlite3 --server https://raffle.example.org --token 3F9K-…
  rsu-syncd --db /var/lib/rsu/rsu.sqlite3            # run until SIGTERM (systemd: rsu-syncd.service)
  rsu-syncd --db /var/lib/rsu/rsu.sqlite3 --once     # one round; exit code 0 only if all synced
  rsu-syncd --db /var/lib/rsu/rsu.sqlite3 status --json

Logs go to stderr (journald under systemd); RSU_LOG=debug for more.";

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run until SIGTERM or SIGINT (the default).
    Run,
    /// Enroll this device with a one-time token from the server's administrator.
    Enroll {
        /// The enrollment token (`server-stub admin create-rsu` or `demo-seed` prints one).
        #[arg(long, env = "RSU_ENROLL_TOKEN")]
        token: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show pending entries, oldest pending age, last success, last error, clock offset and
    /// numbers left. Exit code 0 if nothing is pending, 2 otherwise.
    Status {
        #[arg(long)]
        json: bool,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RSU_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    // Colour only on a terminal: under systemd or redirected to a file, plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn default_db() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "EliteRaffle", "rsu")
        .context("cannot find a home directory for the default database: pass --db PATH")?;
    Ok(dirs.data_dir().join("rsu.sqlite3"))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rsu-syncd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(db) = &cli.db {
        settings.db = Some(db.clone());
    }
    if let Some(s) = &cli.server {
        settings.server = Some(s.clone());
    }
    let db = match settings.db.clone() {
        Some(db) => db,
        None => default_db()?,
    };
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Enroll { token, json } => {
            let server = settings
                .server
                .clone()
                .context("enroll needs the server's URL: pass --server https://…")?;
            let report = rsu_sync::enroll(&db, &server, &token)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { json } => {
            let st = rsu_sync::status::status(&db)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print!("{st}");
            }
            Ok(if st.fully_synced() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_NOT_SYNCED)
            })
        }
        Cmd::Run => {
            init_logging();
            let _lock = match DaemonLock::acquire(&db) {
                Ok(l) => l,
                Err(e @ LockError::Held { .. }) => {
                    eprintln!("rsu-syncd: {e}");
                    return Ok(ExitCode::from(EXIT_LOCKED));
                }
                Err(e) => return Err(e.into()),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(run(db, settings, cli.once, cli.json))
        }
    }
}

async fn run(db: PathBuf, settings: Settings, once: bool, json: bool) -> anyhow::Result<ExitCode> {
    let mut engine = Engine::open(&db, &settings)
        .with_context(|| format!("cannot start syncing {}", db.display()))?;
    if once {
        let report = engine.round_now().await;
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!(
                "{} batches: {} applied, {} duplicate, {} rejected, {} conflict; {} pending{}",
                report.batches,
                report.applied,
                report.duplicates,
                report.rejected,
                report.conflicts,
                report.pending_after,
                report
                    .error
                    .as_deref()
                    .map(|e| format!("; error: {e}"))
                    .unwrap_or_default()
            );
        }
        return Ok(if report.fully_synced() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_NOT_SYNCED)
        });
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: finishing");
        let _ = tx.send(true);
    });
    engine.run(rx).await?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
