//! The database file: schema and pragmas, upgrades, corruption, a full disk, two connections, reset, and owner-only permissions.

use chrono::Utc;
use rsu_store::{demo_config, PrintState, Store, DEMO_SELLER_PIN as SELLER};

use crate::*;

#[test]
fn the_store_uses_wal_full_sync_foreign_keys_and_a_versioned_schema() {
    let d = demo();
    let c = d.store.connection();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let fk: i64 = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL (2)");
    assert_eq!(fk, 1);
    assert_eq!(d.store.schema_version().unwrap(), 9);
    // Reopening applies nothing twice and keeps the data.
    drop(d.store);
    let s = Store::open(&d.path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 9);
    assert!(s.is_enrolled().unwrap());
}

#[test]
fn a_database_from_a_newer_program_is_refused_not_downgraded() {
    let d = demo();
    d.store
        .connection()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    drop(d.store);
    let err = Store::open(&d.path).unwrap_err();
    assert_eq!(err.code(), "schema_too_new", "{err}");
}

#[test]
fn a_committed_sale_is_in_the_file_when_sell_returns() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = d.store.sell(&cash(package(&d, 5))).unwrap();
    // A second connection (another process would see the same) finds it at once.
    let other = Store::open(&d.path).unwrap();
    let found = other.find_sale(&sale.validation_number).unwrap();
    assert_eq!(found.draw_numbers, sale.draw_numbers);
    assert_eq!(
        found.print_state,
        PrintState::Pending,
        "committed before any print"
    );
}

#[test]
fn a_corrupted_database_is_refused_with_a_clear_error_and_left_in_place() {
    // A file that is not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&junk).unwrap_err();
    assert_eq!(err.code(), "not_a_database", "{err}");
    assert!(err.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0x42u8; 8192]);

    // A real database with damaged pages.
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    for _ in 0..30 {
        sell_ok(&mut d, 1);
    }
    d.store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(d.store);
    let mut bytes = std::fs::read(&d.path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 6 * page);
    for b in &mut bytes[3 * page + 100..5 * page] {
        *b = 0xA5;
    }
    std::fs::write(&d.path, &bytes).unwrap();
    let err = Store::open(&d.path).unwrap_err();
    assert!(
        matches!(err.code(), "database_corrupt" | "not_a_database"),
        "{err}"
    );
    assert!(
        err.to_string().contains("do not delete it") || err.to_string().contains("left untouched"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        bytes,
        "the damaged file is kept exactly as it was"
    );
}

#[test]
fn a_disk_that_fills_mid_sale_leaves_no_partial_sale() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let pages: i64 = d
        .store
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    d.store.set_max_page_count(pages + 3).unwrap();
    let mut full = false;
    for _ in 0..200 {
        match d.store.sell(&cash(package(&d, 5))) {
            Ok(s) => {
                d.store.mark_printed(s.id).unwrap();
            }
            Err(e) => {
                assert_eq!(e.code(), "disk_full", "{e}");
                assert!(e.to_string().contains("nothing was recorded"));
                full = true;
                break;
            }
        }
    }
    assert!(full, "the page limit must be hit");
    let c = d.store.connection();
    let sales: i64 = c
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    let sale_entries: i64 = c
        .query_row(
            "SELECT count(*) FROM journal WHERE kind = 'sale'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let numbers: i64 = c
        .query_row("SELECT count(*) FROM sale_numbers", [], |r| r.get(0))
        .unwrap();
    let used: i64 = c
        .query_row(
            "SELECT sum(next_number - start_number) FROM allocations",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        sales, sale_entries,
        "every sale has its journal entry and no entry lacks its sale"
    );
    assert_eq!(numbers, sales * 5);
    assert_eq!(
        used, numbers,
        "allocation counters match the numbers written"
    );
    d.store.verify_journal().unwrap();
    // Space comes back: selling resumes where it left off.
    d.store.set_max_page_count(1_000_000).unwrap();
    let s = sell_ok(&mut d, 5);
    assert_eq!(s.draw_numbers[0].0, 1001 + numbers);
}

#[test]
fn two_connections_sell_and_record_sync_results_without_busy_errors() {
    let d = demo();
    let path = d.path.clone();
    let pkg = package(&d, 1);
    drop(d.store);
    let seller = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut s = Store::open(&path).unwrap();
            s.login(SELLER, None).unwrap();
            for _ in 0..150 {
                let sale = s.sell(&cash(pkg)).unwrap();
                s.mark_printed(sale.id).unwrap();
            }
        }
    });
    let syncer = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut s = Store::open(&path).unwrap();
            for _ in 0..300 {
                ack_all(&mut s);
                std::thread::yield_now();
            }
        }
    });
    seller.join().unwrap();
    syncer.join().unwrap();
    let mut s = Store::open(&path).unwrap();
    ack_all(&mut s);
    let report = s.verify().unwrap();
    assert_eq!(report.quick_check, "ok");
    assert_eq!(report.sales, 150);
    assert_eq!(report.duplicate_draw_numbers, 0);
    assert_eq!(s.sync_counts().unwrap().pending_entries, 0);
}

#[test]
fn a_version_1_database_file_upgrades_in_place_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        // A database exactly as the version-1 program left it, with a device in it.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        c.execute_batch(include_str!("../../../migrations/device/0001_init.sql"))
            .unwrap();
        c.execute(
            "INSERT INTO device (id, rsu_id, rsu_no, name, epoch, validation_key_hex, enrolled_at)
             VALUES (1, '01900000-0000-7000-8000-000000000001', 7, 'old kiosk', 3, '00112233445566778899aabbccddeeff', '2026-01-01T00:00:00.000Z')",
            [],
        )
        .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    // rusqlite created the file with the umask's mode; the store refuses a database other users
    // can read, so make it owner-only as the store itself would have created it.
    set_mode(&path, 0o600);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 9);
    let (no, epoch): (u32, i64) = s
        .connection()
        .query_row("SELECT rsu_no, epoch FROM device", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((no, epoch), (7, 3), "the device survives the upgrade");
    let rows: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM sync_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "the version-2 table exists with its single row");
}

#[test]
fn reset_moves_the_database_aside_once_everything_is_synced() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    ack_all(&mut d.store);
    d.store.lock_screen().unwrap();
    ack_all(&mut d.store);
    drop(d.store);
    let aside = rsu_store::reset_database(&d.path).unwrap();
    assert!(!d.path.exists(), "the device starts empty");
    let old = Store::open(&aside).unwrap();
    old.find_sale(&sale.validation_number)
        .expect("the old database is kept, with its sales");
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn with_suffix(p: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    s.into()
}

#[test]
fn the_database_its_wal_and_shm_are_created_owner_only_in_an_owner_only_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Let the parent be shared, as /tmp or a home directory may be: only what the store creates
    // must be private.
    set_mode(dir.path(), 0o755);
    let data = dir.path().join("data");
    let path = data.join("device").join("rsu.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let t0 = Utc::now();
    store.set_fixed_now(Some(t0));
    let (identity, config) = demo_config(t0).unwrap();
    store.set_identity(&identity).unwrap();
    store.apply_config(&config).unwrap();
    store.login(SELLER, None).unwrap();
    // While the store is open the WAL and the shared memory exist, and hold sales too.
    let wal = with_suffix(&path, "-wal");
    let shm = with_suffix(&path, "-shm");
    assert!(wal.exists() && shm.exists());
    for f in [&path, &wal, &shm] {
        assert_eq!(mode_of(f), 0o600, "{}", f.display());
    }
    for d in [&data, &data.join("device")] {
        assert_eq!(mode_of(d), 0o700, "{}", d.display());
    }
    assert_eq!(rsu_store::PRIVATE_FILE_MODE, 0o600);
}

#[test]
fn a_database_other_users_can_read_is_refused_with_the_command_that_fixes_it() {
    let d = demo();
    let path = d.path.clone();
    drop(d.store);
    set_mode(&path, 0o644);
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.code(), "database_not_private", "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())) && msg.contains("0644"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "left untouched");
    assert_eq!(
        mode_of(&path),
        0o644,
        "the store does not change it behind the user's back"
    );
    assert_eq!(
        Store::open_existing(&path).unwrap_err().code(),
        "database_not_private"
    );
    // Group-readable is just as shared.
    set_mode(&path, 0o640);
    assert_eq!(
        Store::open(&path).unwrap_err().code(),
        "database_not_private"
    );
    // The fix the message gives works.
    set_mode(&path, 0o600);
    let store = Store::open(&path).unwrap();
    assert!(store.is_enrolled().unwrap());

    // A WAL others can read (it holds the latest sales) is refused too, naming that file.
    let wal = with_suffix(&path, "-wal");
    assert!(wal.exists(), "the open store keeps its WAL");
    set_mode(&wal, 0o644);
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.code(), "database_not_private", "{err}");
    assert!(err
        .to_string()
        .contains(&format!("chmod 600 {}", wal.display())));
}

#[test]
fn a_reset_leaves_every_moved_aside_file_owner_only() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    d.store.lock_screen().unwrap();
    ack_all(&mut d.store);
    // A second process (the sync daemon) still has the file open, so its WAL and shared memory
    // are moved aside with it.
    let daemon = Store::open(&d.path).unwrap();
    let aside = rsu_store::reset_database(&d.path).unwrap();
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let f = with_suffix(&aside, suffix);
        if f.exists() {
            assert_eq!(mode_of(&f), 0o600, "{}", f.display());
            moved.push(f);
        }
    }
    assert!(
        moved.len() >= 2,
        "the database and its WAL were moved: {moved:?}"
    );
    drop(daemon);
    drop(d.store);
    // Nothing private is left readable in the directory.
    for entry in std::fs::read_dir(d.path.parent().unwrap()).unwrap() {
        let f = entry.unwrap().path();
        assert_eq!(mode_of(&f) & 0o077, 0, "{}", f.display());
    }
}
