//! `rsu-app`: the raffle sales unit kiosk and its headless CLI on the device store.

use std::process::ExitCode;

fn main() -> ExitCode {
    match rsu_app::cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
