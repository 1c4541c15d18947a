#![allow(clippy::unwrap_used)]
//! Closing the device and exporting its journal from the command line (issue 11): real
//! processes, a real database file.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rsu-app");

fn run(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn close_releases_the_unused_numbers_prints_the_z_report_and_stops_sales() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    assert!(run(&db, &["demo-init"]).status.success());
    assert!(run(&db, &["login", "--pin", "1111"]).status.success());
    let o = run(&db, &["sell", "--package", "5 tickets"]);
    assert!(o.status.success(), "{}", out(&o));
    // A seller's PIN cannot close the device.
    let o = run(&db, &["close", "--supervisor-pin", "1111"]);
    assert!(!o.status.success(), "{}", out(&o));
    let o = run(&db, &["close", "--supervisor-pin", "9999"]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("closed: 195 numbers released;"), "{text}");
    assert!(text.contains("entries still to sync"), "{text}");
    // The sale after it is refused with a sentence.
    assert!(run(&db, &["login", "--pin", "1111"]).status.success());
    let o = run(&db, &["sell", "--package", "1 ticket"]);
    assert!(!o.status.success());
    assert!(out(&o).contains("closed for the event"), "{}", out(&o));
    // JSON for scripts.
    let o = run(&db, &["close", "--supervisor-pin", "9999", "--json"]);
    assert!(!o.status.success(), "nothing left to close: {}", out(&o));
}

#[test]
fn export_ends_with_a_trailer_describing_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    let file = dir.path().join("journal.jsonl");
    assert!(run(&db, &["demo-init"]).status.success());
    assert!(
        run(&db, &["sell", "--package", "1 ticket", "--pin", "1111"])
            .status
            .success()
    );
    let o = run(&db, &["export", "--out", file.to_str().unwrap()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    // The demo has no device key: the export says the server will not import it.
    assert!(text.contains("unsigned"), "{text}");
    let body = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    let trailer = &last["export"];
    assert_eq!(trailer["format"], "rsu-journal-export-v1");
    assert_eq!(
        trailer["epochs"][0]["entries"].as_u64(),
        Some(lines.len() as u64 - 1)
    );
    assert!(trailer["signature"].is_null());
}
