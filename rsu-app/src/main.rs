//! `rsu-app`: the raffle sales unit kiosk and its headless CLI on the device store.

use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Logs go to stderr; RUST_LOG=info (or debug) shows them. Under systemd they reach the journal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    match rsu_app::cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
