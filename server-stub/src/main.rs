//! Companion server (to be built in the server issue).
use clap::Parser;

/// Companion server for raffle sales units.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("server-stub is not implemented yet")
}
