//! The headless sync daemon (to be built in the sync issue).
use clap::Parser;

/// Sync daemon for a raffle sales unit: pushes the device journal to the server and pulls configuration.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Do one sync round and exit.
    #[arg(long)]
    once: bool,
}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("rsu-syncd is not implemented yet: sales stay safely in the local journal")
}
