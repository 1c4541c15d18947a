#![allow(clippy::unwrap_used)]
//! The headless CLI as a user runs it: real processes, a real database file.

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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_init_then_sell_prints_a_complete_receipt_and_status_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    assert!(run(&db, &["demo-init"]).status.success());
    let o = run(&db, &["sell", "--package", "5 tickets", "--pin", "1111"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for field in [
        "Riverside Community Foundation",
        "LIC-2026-0042",
        "Summer Festival Raffle",
        "RAFFLE-2026-001",
        "Draw numbers: 1001\u{2013}1005",
        "Validation: RSU001-",
        "Ticket holders need not be present to win.",
        "Sam Seller",
        // The demo's claim deadline is a date, printed after "Claim by" (it used to read
        // "Claim by Claim within 90 days of the draw (…)" on the printed receipt).
        "Claim by 20",
        "(90 days after the draw)",
        "Play responsibly",
        "https://example.org/raffle-rules",
        "$20.00",
    ] {
        assert!(out.contains(field), "receipt lacks {field:?}:\n{out}");
    }
    assert!(!out.contains("Claim by Claim"), "{out}");
    let o = run(&db, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sales"], 1);
    assert_eq!(v["numbersLeft"], 195);
    assert_eq!(v["sync"]["unsyncedTickets"], 5);
    assert!(v["unresolvedPrint"].is_null());
    let o = run(&db, &["verify"]);
    assert!(o.status.success());
    assert!(text(&o).0.contains("sold twice: 0"));
}

#[test]
fn errors_are_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    // No database yet.
    let o = run(&db, &["status"]);
    assert!(!o.status.success());
    let (_, err) = text(&o);
    assert!(err.contains("demo-init"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!db.exists(), "status must not create a database");

    run(&db, &["demo-init"]);
    let o = run(&db, &["sell", "--package", "5 tickets"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        err.trim(),
        "error: No operator is logged in. Log in with your PIN to sell."
    );

    let o = run(&db, &["sell", "--package", "7 tickets", "--pin", "1111"]);
    assert!(
        text(&o)
            .1
            .contains("choose one of 1 ticket, 5 tickets, 25 tickets"),
        "{}",
        text(&o).1
    );

    let o = run(&db, &["logout"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("export"),
        "logout with pending entries offers export"
    );

    // Not a database: refused, untouched.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not sqlite at all, just text padding it out........................................").unwrap();
    let before = std::fs::read(&junk).unwrap();
    let o = run(&junk, &["status"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("not a device database"),
        "{}",
        text(&o).1
    );
    assert_eq!(std::fs::read(&junk).unwrap(), before);
}

#[test]
fn help_explains_every_command_and_exits_zero() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for cmd in [
        "demo-init",
        "sell",
        "void",
        "reprint",
        "shift",
        "status",
        "verify",
        "export",
    ] {
        assert!(out.contains(cmd), "--help lacks {cmd}");
    }
    assert!(!out.contains("sell-loop"), "test helpers stay hidden");
}

#[test]
fn void_reprint_and_shift_close_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    run(&db, &["demo-init"]);
    run(&db, &["login", "--pin", "1111", "--float", "5000"]);
    let o = run(&db, &["sell", "--package", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vn = v["validationNumber"].as_str().unwrap().to_string();
    let o = run(&db, &["reprint", &vn]);
    assert!(
        !o.status.success(),
        "a printed receipt needs a supervisor to reprint"
    );
    let o = run(&db, &["reprint", &vn, "--supervisor-pin", "9999"]);
    assert!(text(&o).0.contains("REPRINT 1"), "{}", text(&o).0);
    let o = run(
        &db,
        &[
            "void",
            &vn.to_lowercase(),
            "--supervisor-pin",
            "9999",
            "--reason",
            "wrong package",
        ],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let o = run(
        &db,
        &["shift", "close", "--supervisor-pin", "9999", "--json"],
    );
    let z: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(z["salesCount"], 1);
    assert_eq!(z["voidsCount"], 1);
    assert_eq!(z["cashExpected"], 5000);
}

#[test]
fn a_receipt_that_could_not_print_completely_refuses_the_sale_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    run(&db, &["demo-init"]);
    // The raffle manager's roster gives the seller a name with a character no printer has.
    {
        let mut store = rsu_store::Store::open(&db).unwrap();
        let (_, mut cfg) = rsu_store::demo_config(chrono::Utc::now()).unwrap();
        cfg.version = 2;
        cfg.operators[0].name = "Sam \u{1F39F} Seller".into();
        store.apply_config(&cfg).unwrap();
    }
    let o = run(&db, &["sell", "--package", "5 tickets", "--pin", "1111"]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("The receipt would be missing"), "{err}");
    assert!(err.contains("nothing was sold"), "{err}");
    let o = run(&db, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sales"], 0);
    assert_eq!(v["numbersLeft"], 200, "no draw number was used");
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", text(o)))
}

#[test]
fn sell_json_reports_the_print_state_after_printing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    assert!(run(&db, &["demo-init"]).status.success());
    run(&db, &["login", "--pin", "1111"]);
    // On the terminal (no printer configured): shown, so printed.
    let o = run(&db, &["sell", "--package", "1", "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(json(&o)["printState"], "printed");
    // On the simulated printer: printed and confirmed by its status.
    let o = run(
        &db,
        &["sell", "--package", "1", "--json", "--printer", "sim"],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(json(&o)["printState"], "printed");
    // Out of paper: still one JSON answer, saying the print failed, and a non-zero exit.
    let receipts = dir.path().join("receipts");
    std::fs::write(receipts.join("PAPER_OUT"), b"").unwrap();
    let o = run(
        &db,
        &["sell", "--package", "1", "--json", "--printer", "sim"],
    );
    assert!(!o.status.success());
    let v = json(&o);
    assert_eq!(v["printState"], "print_failed", "{v}");
    assert!(text(&o).1.contains("did not print"), "{:?}", text(&o));
}

#[test]
fn enroll_help_names_the_server_commands_that_make_a_token() {
    let o = Command::new(BIN)
        .args(["enroll", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("admin rsu create"), "no such command:\n{out}");
    for real in ["server-stub admin create-rsu", "server-stub demo-seed"] {
        assert!(out.contains(real), "{real:?} missing:\n{out}");
    }
}

#[test]
fn the_tour_leaves_a_screenshot_of_each_step_and_the_receipts_without_a_display() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tour");
    let o = Command::new(BIN)
        .args(["tour", "--width", "800", "--height", "500", "--out"])
        .arg(&out)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let mut shots: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    shots.sort();
    assert_eq!(
        shots,
        [
            "01-login.png",
            "02-sell.png",
            "03-sale-printed.png",
            "04-print-failure.png",
            "05-reprinted.png",
            "06-recent-sales.png",
            "07-shift.png",
            "08-shift-closed.png"
        ]
    );
    // Two sales printed, the failed one reprinted, and the Z report: each as text and picture.
    let receipts: Vec<String> = std::fs::read_dir(out.join("receipts"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .filter(|t| !t.is_empty())
        .collect();
    let all = receipts.join("\n");
    assert!(
        all.contains("REPRINT 1"),
        "the reprint is among the receipts"
    );
    assert!(
        all.contains("Z REPORT"),
        "the shift's Z report is among the receipts"
    );
    assert!(
        std::fs::read_dir(out.join("receipts"))
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png"))
            .count()
            >= 4
    );
    let (stdout, _) = text(&o);
    assert!(
        stdout.contains(&out.join("receipts").display().to_string()),
        "{stdout}"
    );
}

#[test]
fn enroll_on_a_new_device_creates_its_data_directory_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev").join("rsu.db");
    // Nothing listens on port 9: enrollment gets as far as the network, not stuck on the lock.
    let o = run(
        &db,
        &["enroll", "--server", "http://127.0.0.1:9", "--token", "T"],
    );
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(!err.contains("lock file"), "{err}");
    let mode = std::fs::metadata(db.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}
