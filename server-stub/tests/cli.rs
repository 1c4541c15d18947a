//! The `server-stub` binary as an operator meets it: its help and its log.

use server_stub::testkit::TestDb;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type R = anyhow::Result<()>;

const BIN: &str = env!("CARGO_BIN_EXE_server-stub");

#[test]
fn help_names_every_command_including_the_draw() -> R {
    let out = Command::new(BIN).arg("--help").output()?;
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout)?;
    for cmd in ["serve", "migrate", "demo-seed", "admin", "verify-draw"] {
        assert!(help.contains(cmd), "{cmd} missing from:\n{help}");
    }
    // The draw and claims exist now (issue 12): the admin help names each of their commands.
    let out = Command::new(BIN).args(["admin", "--help"]).output()?;
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout)?;
    for cmd in [
        "draw ",
        "draw-commitment",
        "draw-export",
        "claim ",
        "verify-receipt",
        "report",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from:\n{help}");
    }
    Ok(())
}

#[tokio::test]
async fn the_log_has_no_colour_codes_when_stderr_is_not_a_terminal() -> R {
    let db = TestDb::create().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SERVER_STUB_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env_remove("SERVER_STUB_ADMIN_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // Wait until it listens (it logs a warning about the admin token and "listening").
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            anyhow::bail!("server-stub did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill()?;
    child.wait()?;
    let mut log = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut log)?;
    }
    assert!(log.contains("server-stub listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a log that is not a terminal: {log:?}"
    );
    db.drop_db().await;
    Ok(())
}
