//! `server-stub admin list` and `admin show` as a raffle manager runs them: the binary against a
//! real database seeded with the demo, a device that sold and sent a heartbeat, every kind
//! listed, filtered and shown, as JSON (one naming rule for ids) and as tables, and the errors.

use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::Fixture;
use std::process::{Command, Output};
use uuid::Uuid;

type R = anyhow::Result<()>;

const BIN: &str = env!("CARGO_BIN_EXE_server-stub");

fn run(f: &Fixture, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &f.db.url)
        .env("RUST_LOG", "warn")
        .env_remove("SERVER_STUB_CONFIG")
        .output()?)
}

/// Runs an admin command that must succeed and returns its JSON answer.
fn ok_json(f: &Fixture, args: &[&str]) -> anyhow::Result<Value> {
    let out = run(f, args)?;
    anyhow::ensure!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_ids_follow_the_rule(&v, &format!("{args:?}"));
    Ok(v)
}

/// Runs an admin command that must succeed and returns what it printed.
fn ok_text(f: &Fixture, args: &[&str]) -> anyhow::Result<String> {
    let out = run(f, args)?;
    anyhow::ensure!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Runs an admin command that must fail and returns its error line.
fn err_text(f: &Fixture, args: &[&str]) -> anyhow::Result<String> {
    let out = run(f, args)?;
    assert!(!out.status.success(), "{args:?} succeeded: {out:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed {out:?}");
    Ok(String::from_utf8(out.stderr)?)
}

/// docs/server.md "Admin CLI answers": no field is a bare `id`; every `…Id` is a UUID or null
/// and every `…Ids` a list of them.
fn assert_ids_follow_the_rule(v: &Value, what: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                assert_ne!(k, "id", "bare id in {what}: {v}");
                if k.ends_with("Id") {
                    assert!(
                        x.is_null() || x.as_str().and_then(|s| Uuid::parse_str(s).ok()).is_some(),
                        "{k} is not a UUID in {what}: {x}"
                    );
                }
                assert_ids_follow_the_rule(x, what);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_ids_follow_the_rule(x, what)),
        _ => {}
    }
}

/// The demo after the device sold one 5-ticket package and reported a heartbeat: 3 entries
/// pending, the printer out of paper.
async fn sold_and_heartbeat() -> anyhow::Result<Fixture> {
    let mut f = Fixture::new().await?;
    let e = f.sale(5);
    let (st, v) = f.push(&[e]).await?;
    anyhow::ensure!(st.is_success(), "push: {v}");
    let hb = json!({"epoch": 1, "lastSeq": 4, "pendingCount": 3, "oldestPendingAgeSecs": 42,
                    "printerStatus": "paper_out", "appVersion": "1.4.2", "appHash": "ab".repeat(32)});
    let req = f.device.request(
        "POST",
        rsu_core::wire::PATH_HEARTBEAT,
        serde_json::to_vec(&hb)?,
    )?;
    let (st, v) = f.send(req).await?;
    anyhow::ensure!(st.is_success(), "heartbeat: {v}");
    Ok(f)
}

fn only<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} list in {v}"))
}

#[tokio::test]
async fn every_kind_is_listed_and_shown_with_the_documented_fields() -> R {
    let f = sold_and_heartbeat().await?;
    let (org, ev, rsu) = (
        f.org_id.to_string(),
        f.event_id.to_string(),
        f.device.rsu_id.to_string(),
    );

    let v = ok_json(&f, &["admin", "list", "organizations"])?;
    let orgs = only(&v, "organizations");
    assert_eq!(orgs.len(), 1, "{v}");
    assert_eq!(orgs[0]["organizationId"], org.as_str());
    assert_eq!(orgs[0]["validationNumberPrefix"], "RSU");
    assert_eq!(
        (
            &orgs[0]["eventCount"],
            &orgs[0]["rsuCount"],
            &orgs[0]["operatorCount"]
        ),
        (&json!(1), &json!(1), &json!(2))
    );

    let v = ok_json(&f, &["admin", "list", "events", "--organization-id", &org])?;
    let events = only(&v, "events");
    assert_eq!(events.len(), 1, "{v}");
    let e = &events[0];
    assert_eq!(e["eventId"], ev.as_str());
    assert_eq!(e["state"], "active");
    assert_eq!(e["ticketsSold"], 5);
    assert_eq!(e["salesCount"], 1);
    assert_eq!(e["netSales"], 2000);
    assert_eq!(
        e["commitment"],
        Value::Null,
        "no commitment before sales_closed"
    );

    let v = ok_json(&f, &["admin", "list", "packages", "--event-id", &ev])?;
    let packages = only(&v, "packages");
    assert_eq!(packages.len(), 3, "{v}");
    let five = packages
        .iter()
        .find(|p| p["ticketCount"] == 5)
        .expect("the 5-ticket package");
    assert_eq!(
        (&five["price"], &five["salesCount"]),
        (&json!(2000), &json!(1))
    );

    let v = ok_json(
        &f,
        &["admin", "list", "operators", "--organization-id", &org],
    )?;
    let mut roles: Vec<&str> = only(&v, "operators")
        .iter()
        .filter_map(|o| o["role"].as_str())
        .collect();
    roles.sort();
    assert_eq!(roles, ["seller", "supervisor"]);
    assert!(
        !v.to_string().contains("pbkdf2"),
        "PIN hashes are never shown: {v}"
    );

    let v = ok_json(&f, &["admin", "list", "rsus", "--event-id", &ev])?;
    let rsus = only(&v, "rsus");
    assert_eq!(rsus.len(), 1, "{v}");
    let r = &rsus[0];
    assert_eq!(r["rsuId"], rsu.as_str());
    assert_eq!(r["currentEpoch"], 1);
    assert_eq!(r["pendingCount"], 3);
    assert_eq!(r["oldestPendingAgeSecs"], 42);
    assert_eq!(r["printerStatus"], "paper_out");
    assert_eq!(r["appVersion"], "1.4.2");
    assert_eq!(r["activeKeyCount"], 1);
    assert!(r["lastHeartbeatAt"].is_string(), "{r}");
    // 1001–1100 and 1101–1200, five sold.
    assert_eq!(r["numbersLeft"], 195);

    let v = ok_json(&f, &["admin", "list", "allocations", "--rsu-id", &rsu])?;
    let allocs = only(&v, "allocations");
    assert_eq!(allocs.len(), 2, "{v}");
    assert_eq!(
        (
            &allocs[0]["startNumber"],
            &allocs[0]["nextNumber"],
            &allocs[0]["numbersLeft"],
            &allocs[0]["ticketsSold"],
            &allocs[0]["state"]
        ),
        (
            &json!(1001),
            &json!(1006),
            &json!(95),
            &json!(5),
            &json!("active")
        )
    );
    let alloc_id = allocs[0]["allocationId"].as_str().unwrap_or("").to_string();

    // show: the list row plus details.
    let o = ok_json(&f, &["admin", "show", "organization", "--id", &org])?;
    assert_eq!(o["organizationId"], org.as_str());
    assert_eq!(o["venues"][0]["name"], "Riverside Park", "{o}");

    let e = ok_json(&f, &["admin", "show", "event", "--id", &ev])?;
    assert_eq!((&e["eventId"], &e["ticketsSold"]), (&json!(ev), &json!(5)));
    assert_eq!(e["packages"].as_array().map(Vec::len), Some(3));
    assert_eq!(e["prizes"][0]["name"], "50/50 Winner", "{e}");
    assert_eq!(e["rsuCount"], 1);
    assert_eq!(e["allocatedNumbers"], 200);
    assert_eq!(e["numbersLeft"], 195);
    // 50 % of $20 is below the $1,000 seed.
    assert_eq!(e["jackpot"]["amount"], 100_000, "{e}");
    assert_eq!(e["drawCommitment"], Value::Null);

    let p = ok_json(
        &f,
        &[
            "admin",
            "show",
            "package",
            "--id",
            five["packageId"].as_str().unwrap_or(""),
        ],
    )?;
    assert_eq!(p["priceHistory"][0]["price"], 2000, "{p}");

    let op = ok_json(
        &f,
        &[
            "admin",
            "show",
            "operator",
            "--id",
            &f.seller_id.to_string(),
        ],
    )?;
    assert_eq!(
        (&op["role"], &op["salesCount"]),
        (&json!("seller"), &json!(1)),
        "{op}"
    );

    let r = ok_json(&f, &["admin", "show", "rsu", "--id", &rsu])?;
    assert_eq!(r["pendingCount"], 3);
    assert_eq!(r["printerStatus"], "paper_out");
    let keys = r["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1, "{r}");
    assert_eq!(keys[0]["keyId"], f.device.key_id.to_string().as_str());
    assert_eq!(keys[0]["status"], "active");
    assert!(keys[0].get("registeredByKeyId").is_some(), "{r}");
    assert_eq!(r["epochs"][0]["epoch"], 1);
    assert_eq!(r["epochs"][0]["pendingCount"], 3);
    assert_eq!(r["epochs"][0]["chainVerified"], true);
    assert_eq!(r["allocations"].as_array().map(Vec::len), Some(2));
    // The demo RSU was created with --max-offline-tickets 500.
    assert_eq!(r["offlineLimits"]["maxOfflineTickets"], 500, "{r}");
    assert_eq!(r["offlineLimits"]["maxOfflineTicketsFrom"], "rsu");
    assert_eq!(r["openExceptions"], 0);

    let a = ok_json(&f, &["admin", "show", "allocation", "--id", &alloc_id])?;
    assert_eq!(a["allocationId"], alloc_id.as_str());
    assert_eq!(a["rsuId"], rsu.as_str());

    // Once sales close, the event carries its commitment and the RSU a pending close command.
    admin::transition(
        &f.db.pool,
        &admin::Transition {
            event_id: f.event_id,
            to: "sales_closed".into(),
            reason: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let v = ok_json(&f, &["admin", "list", "events"])?;
    let c = only(&v, "events")[0]["commitment"].as_str().unwrap_or("");
    assert_eq!(c.len(), 64, "a SHA-256 in hex: {v}");
    let e = ok_json(&f, &["admin", "show", "event", "--id", &ev])?;
    assert_eq!(e["drawCommitment"]["commitment"], c);
    let r = ok_json(&f, &["admin", "show", "rsu", "--id", &rsu])?;
    assert_eq!(r["pendingCommands"], 1, "{r}");
    // And the RSU may no longer sell: its numbers left count only selling events.
    assert_eq!(r["numbersLeft"], 0, "{r}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn filters_narrow_each_list_and_refuse_what_does_not_apply() -> R {
    let f = Fixture::new().await?;
    let pool = &f.db.pool;
    let other = admin::create_organization(
        pool,
        &admin::NewOrganization {
            name: "Harbour Lions".into(),
            license_number: "LIC-9".into(),
            currency: "CAD".into(),
            validation_number_prefix: "HL".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let other = other["organizationId"].as_str().unwrap_or("").to_string();
    let created = ok_json(
        &f,
        &[
            "admin",
            "create-rsu",
            "--organization-id",
            &other,
            "--name",
            "Dock 1",
        ],
    )?;
    let other_rsu = created["rsuId"].as_str().unwrap_or("").to_string();
    let org = f.org_id.to_string();
    let ev = f.event_id.to_string();

    let all = ok_json(&f, &["admin", "list", "rsus"])?;
    assert_eq!(only(&all, "rsus").len(), 2);
    let mine = ok_json(&f, &["admin", "list", "rsus", "--organization-id", &other])?;
    assert_eq!(only(&mine, "rsus").len(), 1);
    assert_eq!(only(&mine, "rsus")[0]["rsuId"], other_rsu.as_str());
    assert_eq!(only(&mine, "rsus")[0]["lastHeartbeatAt"], Value::Null);
    assert_eq!(only(&mine, "rsus")[0]["state"], "registered");
    let registered = ok_json(&f, &["admin", "list", "rsus", "--state", "registered"])?;
    assert_eq!(only(&registered, "rsus").len(), 1, "{registered}");
    let in_event = ok_json(&f, &["admin", "list", "rsus", "--event-id", &ev])?;
    assert_eq!(only(&in_event, "rsus").len(), 1);
    assert_ne!(only(&in_event, "rsus")[0]["rsuId"], other_rsu.as_str());

    let none = ok_json(
        &f,
        &["admin", "list", "events", "--organization-id", &other],
    )?;
    assert_eq!(only(&none, "events").len(), 0, "{none}");
    let active = ok_json(&f, &["admin", "list", "events", "--state", "active"])?;
    assert_eq!(only(&active, "events").len(), 1);
    let closed = ok_json(&f, &["admin", "list", "events", "--state", "sales_closed"])?;
    assert_eq!(only(&closed, "events").len(), 0);
    let ops = ok_json(
        &f,
        &["admin", "list", "operators", "--organization-id", &other],
    )?;
    assert_eq!(only(&ops, "operators").len(), 0);
    let pk = ok_json(
        &f,
        &["admin", "list", "packages", "--organization-id", &org],
    )?;
    assert_eq!(only(&pk, "packages").len(), 3);
    let al = ok_json(&f, &["admin", "list", "allocations", "--event-id", &ev])?;
    assert_eq!(only(&al, "allocations").len(), 2);
    let al = ok_json(
        &f,
        &["admin", "list", "allocations", "--rsu-id", &other_rsu],
    )?;
    assert_eq!(only(&al, "allocations").len(), 0);
    // A singular kind is accepted for list, a plural one for show.
    let one = ok_json(&f, &["admin", "list", "event"])?;
    assert_eq!(only(&one, "events").len(), 1);
    ok_json(&f, &["admin", "show", "rsus", "--id", &other_rsu])?;

    let e = err_text(&f, &["admin", "list", "events", "--rsu-id", &other_rsu])?;
    assert!(
        e.contains("--rsu-id does not filter events: they take --organization-id, --state"),
        "{e}"
    );
    let e = err_text(&f, &["admin", "list", "organizations", "--event-id", &ev])?;
    assert!(e.contains("they take no filters"), "{e}");
    let e = err_text(&f, &["admin", "list", "events", "--state", "open"])?;
    assert!(
        e.contains("\"open\" is not a state of events (one of created,"),
        "{e}"
    );
    let e = err_text(&f, &["admin", "list", "rsus", "--state", "broken"])?;
    assert!(e.contains("(one of active, decommissioned, lost,"), "{e}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn an_unknown_id_is_named_with_the_command_that_lists_them() -> R {
    let f = Fixture::new().await?;
    let nobody = Uuid::now_v7().to_string();
    for (kind, code, list) in [
        ("organization", "unknown_organization", "organizations"),
        ("event", "unknown_event", "events"),
        ("package", "unknown_package", "packages"),
        ("operator", "unknown_operator", "operators"),
        ("rsu", "unknown_rsu", "rsus"),
        ("allocation", "unknown_allocation", "allocations"),
    ] {
        let e = err_text(&f, &["admin", "show", kind, "--id", &nobody])?;
        let name = if kind == "rsu" { "RSU" } else { kind };
        assert!(
            e.contains(&format!(
                "{code}: no {name} {nobody}; `server-stub admin list {list}` shows them"
            )),
            "{kind}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }
    // An unknown id in a filter is an error too, not an empty list.
    let e = err_text(&f, &["admin", "list", "allocations", "--event-id", &nobody])?;
    assert!(
        e.contains(&format!(
            "no event {nobody}; `server-stub admin list events` shows them"
        )),
        "{e}"
    );
    let e = err_text(&f, &["admin", "list", "rsus", "--organization-id", &nobody])?;
    assert!(e.contains("unknown_organization"), "{e}");
    // A malformed id is refused by the argument parser, naming the flag.
    let e = err_text(&f, &["admin", "show", "event", "--id", "123"])?;
    assert!(e.contains("--id"), "{e}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn tables_are_aligned_and_fit_100_columns() -> R {
    let f = sold_and_heartbeat().await?;
    let rsu = f.device.rsu_id.to_string();
    let check = |text: &str, what: &str| {
        for line in text.lines() {
            assert!(line.chars().count() <= 100, "{what}: too wide: {line:?}");
        }
    };
    let t = ok_text(&f, &["admin", "list", "rsus", "--format", "table"])?;
    check(&t, "list rsus");
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2, "{t}");
    assert!(lines[0].starts_with("RSU ID "), "{t}");
    assert!(lines[1].starts_with(&rsu), "ids are printed whole: {t}");
    for col in ["HEARTBEAT", "PENDING", "PRINTER", "LEFT"] {
        assert!(lines[0].contains(col), "{col}: {t}");
    }
    assert!(
        lines[1].contains("paper_out") && lines[1].contains("ago"),
        "{t}"
    );
    // Columns line up: each header starts where its value does (in characters: a shortened
    // name ends in a multi-byte `…`).
    let cells = |line: &str, at: usize, n: usize| line.chars().skip(at).take(n).collect::<String>();
    let col = |name: &str| lines[0].find(name).unwrap_or(0); // the header is ASCII
    assert_eq!(cells(lines[1], col("PRINTER"), 9), "paper_out", "{t}");
    // Numbers are right-aligned under their header.
    assert_eq!(cells(lines[1], col("LEFT") + 1, 3), "195", "{t}");
    assert_eq!(cells(lines[1], col("PENDING") + 6, 1), "3", "{t}");

    let t = ok_text(&f, &["admin", "list", "events", "--format", "table"])?;
    check(&t, "list events");
    assert!(
        t.contains("RAFFLE-2026-001 Summer"),
        "identifier and name: {t}"
    );
    assert!(t.contains("$20.00"), "net sales as money: {t}");

    for kind in ["organizations", "packages", "operators", "allocations"] {
        let t = ok_text(&f, &["admin", "list", kind, "--format", "table"])?;
        check(&t, kind);
        assert!(t.lines().count() >= 2, "{kind}: {t}");
    }

    let t = ok_text(
        &f,
        &["admin", "show", "rsu", "--id", &rsu, "--format", "table"],
    )?;
    check(&t, "show rsu");
    for part in [
        "printerStatus:",
        "paper_out",
        "pendingCount:",
        "maxOfflineTickets:",
        "500 (from rsu)",
        "Keys",
        "Epochs",
        "Allocations",
        "1001–1100",
        &f.device.key_id.to_string(),
    ] {
        assert!(t.contains(part), "{part} missing:\n{t}");
    }
    let t = ok_text(
        &f,
        &[
            "admin",
            "show",
            "event",
            "--id",
            &f.event_id.to_string(),
            "--format",
            "table",
        ],
    )?;
    check(&t, "show event");
    for part in [
        "netSales:",
        "$20.00",
        "Packages",
        "Prizes",
        "jackpot:",
        "$1,000.00",
    ] {
        assert!(t.contains(part), "{part} missing:\n{t}");
    }
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn create_rsu_shows_the_default_offline_limits() -> R {
    let f = Fixture::new().await?;
    let out = run(
        &f,
        &[
            "admin",
            "create-rsu",
            "--organization-id",
            &f.org_id.to_string(),
            "--name",
            "Gate 7",
        ],
    )?;
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let l = &v["offlineLimits"];
    assert_eq!(l["maxOfflineTickets"], 100, "{v}");
    assert_eq!(l["maxOfflineTicketsFrom"], "system");
    assert_eq!(l["offlineSaleExpirationMinutes"], 1440);
    assert_eq!(l["syncIntervalMinutes"], 5);
    let note = l["note"].as_str().unwrap_or("");
    assert!(note.contains("about 20 sales of 5 tickets"), "{note}");
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains("offline limits: sales stop after 100 unsynced tickets"),
        "{stderr}"
    );
    assert!(v["enrollmentToken"].is_string(), "{v}");
    // show rsu gives the same limits.
    let id = v["rsuId"].as_str().unwrap_or("");
    let r = ok_json(&f, &["admin", "show", "rsu", "--id", id])?;
    assert_eq!(&r["offlineLimits"], l);
    // An RSU given its own limit shows it.
    let v = ok_json(
        &f,
        &[
            "admin",
            "create-rsu",
            "--organization-id",
            &f.org_id.to_string(),
            "--name",
            "Gate 8",
            "--max-offline-tickets",
            "250",
        ],
    )?;
    assert_eq!(v["offlineLimits"]["maxOfflineTickets"], 250);
    assert_eq!(v["offlineLimits"]["maxOfflineTicketsFrom"], "rsu");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn revoke_key_all_then_show_lists_every_key_revoked() -> R {
    let f = Fixture::new().await?;
    let rsu = f.device.rsu_id.to_string();
    let before = ok_json(&f, &["admin", "show", "rsu", "--id", &rsu])?;
    assert_eq!(before["activeKeyCount"], 1);
    let v = ok_json(
        &f,
        &[
            "admin",
            "revoke-key",
            "--rsu-id",
            &rsu,
            "--all",
            "--reason",
            "audit",
        ],
    )?;
    assert_eq!(v["revokedKeys"], json!([f.device.key_id]), "{v}");
    let after = ok_json(&f, &["admin", "show", "rsu", "--id", &rsu])?;
    assert_eq!(after["activeKeyCount"], 0, "{after}");
    let keys = after["keys"].as_array().cloned().unwrap_or_default();
    assert!(!keys.is_empty());
    for k in &keys {
        assert_eq!(k["status"], "revoked", "{k}");
        assert_eq!(k["revokedReason"], "audit");
    }
    // list-keys agrees with show rsu.
    let lk = ok_json(&f, &["admin", "list-keys", "--rsu-id", &rsu])?;
    assert_eq!(lk["keys"].as_array().map(Vec::len), Some(keys.len()));
    assert_eq!(lk["keys"][0]["status"], "revoked", "{lk}");
    let listed = ok_json(&f, &["admin", "list", "rsus"])?;
    assert_eq!(only(&listed, "rsus")[0]["activeKeyCount"], 0);
    // --all needs --rsu-id, and a key id cannot go with it.
    let e = err_text(&f, &["admin", "revoke-key", "--all", "--reason", "x"])?;
    assert!(e.contains("--rsu-id"), "{e}");
    f.drop_db().await;
    Ok(())
}

#[test]
fn the_admin_help_names_list_and_show_with_their_kinds() -> R {
    let out = Command::new(BIN).args(["admin", "--help"]).output()?;
    let help = String::from_utf8(out.stdout)?;
    assert!(
        help.contains("  list ") && help.contains("  show "),
        "{help}"
    );
    let out = Command::new(BIN)
        .args(["admin", "list", "--help"])
        .output()?;
    let help = String::from_utf8(out.stdout)?;
    assert!(
        help.contains("organizations, events, packages, operators, rsus, allocations"),
        "{help}"
    );
    assert!(help.contains("--format"), "{help}");
    Ok(())
}

#[tokio::test]
async fn creating_an_rsu_over_http_answers_its_offline_limits_too() {
    let f = server_stub::testkit::Fixture::new().await.unwrap();
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/admin/rsus")
        .header(
            "authorization",
            format!("Bearer {}", server_stub::testkit::TEST_ADMIN_TOKEN),
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            serde_json::to_vec(&serde_json::json!({"organizationId": f.org_id, "name": "Gate 7"}))
                .unwrap(),
        ))
        .unwrap();
    let (st, v) = f.send(req).await.unwrap();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["offlineLimits"]["maxOfflineTickets"], 100, "{v}");
    assert!(v["enrollmentToken"].is_string(), "{v}");
    f.drop_db().await;
}
