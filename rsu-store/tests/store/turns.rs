//! Turns at the write lock (issue 16, `turn.rs`): the daemon's store holds `<db>.turn` for the
//! length of its write transaction, every other writer waits while it is held, and never longer
//! than `TURN_MAX_WAIT`, so a daemon stopped holding its turn cannot stop the kiosk selling.
//! (That the turns let the daemon drain while the kiosk sells back to back is measured by
//! `cargo bench -p rsu-sync --bench contention`.)

use rsu_store::{turn_path, EntryOutcome, Store, SyncResult, TURN_MAX_WAIT};
use std::fs::{File, OpenOptions, TryLockError};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::*;

fn turn_file(d: &Demo) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(turn_path(&d.path))
        .expect("the store made its turn file")
}

#[test]
fn a_sale_waits_while_the_daemon_holds_its_turn_and_goes_ahead_when_it_ends() {
    let mut d = demo();
    d.store.login(rsu_store::DEMO_SELLER_PIN, None).unwrap();
    let package = package(&d, 1);
    let before = d.store.sync_counts().unwrap().pending_entries;
    let turn = turn_file(&d);
    turn.lock().unwrap();
    let (done, sold) = mpsc::channel();
    let path = d.path.clone();
    let at = d.t0;
    let kiosk = std::thread::spawn(move || {
        let mut store = Store::open(&path).unwrap();
        store.set_fixed_now(Some(at));
        let r = store.sell(&cash(package)).map(|s| s.id);
        done.send(Instant::now()).unwrap();
        r
    });
    // While the turn is held the sale does not happen …
    assert!(sold.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(d.store.sync_counts().unwrap().pending_entries, before);
    // … and it happens as soon as the turn ends.
    let released = Instant::now();
    turn.unlock().unwrap();
    let at = sold.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(at.duration_since(released) < TURN_MAX_WAIT);
    let id = kiosk.join().unwrap().unwrap();
    assert_eq!(d.store.sale(id).unwrap().ticket_count, 1);
}

#[test]
fn a_daemon_that_never_gives_its_turn_back_cannot_stop_the_kiosk_selling() {
    let mut d = demo();
    d.store.login(rsu_store::DEMO_SELLER_PIN, None).unwrap();
    let turn = turn_file(&d);
    turn.lock().unwrap();
    let t = Instant::now();
    let sale = d.store.sell(&cash(package(&d, 1))).unwrap();
    assert!(t.elapsed() >= TURN_MAX_WAIT, "{:?}", t.elapsed());
    assert_eq!(d.store.sale(sale.id).unwrap().id, sale.id);
    drop(turn);
}

#[test]
fn the_daemon_holds_its_turn_while_its_write_waits_and_gives_it_back_after() {
    let mut d = demo();
    d.store.login(rsu_store::DEMO_SELLER_PIN, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    let before = d.store.sync_counts().unwrap().pending_entries;
    let mut daemon = Store::open(&d.path).unwrap();
    daemon.take_write_turns().unwrap();
    // Someone else holds SQLite's write lock: the daemon's write waits for it, holding the turn.
    let other = rusqlite::Connection::open(&d.path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (epoch, seq) = (sale.epoch, sale.seq);
    let writer = std::thread::spawn(move || {
        daemon.record_results(&[SyncResult {
            epoch,
            seq,
            outcome: EntryOutcome::Applied,
        }])
    });
    let turn = turn_file(&d);
    let t = Instant::now();
    let held = loop {
        match turn.try_lock_shared() {
            Err(TryLockError::WouldBlock) => break true,
            Ok(()) => {
                turn.unlock().unwrap();
                if t.elapsed() > Duration::from_secs(5) {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(
        held,
        "the daemon's write did not hold the turn while it waited"
    );
    other.execute_batch("COMMIT").unwrap();
    writer.join().unwrap().unwrap();
    // Written, and the turn is free again.
    turn.try_lock_shared().unwrap();
    turn.unlock().unwrap();
    assert_eq!(d.store.sync_counts().unwrap().pending_entries, before - 1);
}

#[test]
fn writers_of_a_store_without_turns_are_never_held_up_by_a_missing_turn_file() {
    let mut d = demo();
    std::fs::remove_file(turn_path(&d.path)).unwrap();
    // The open store keeps its (now unlinked) file; a store opened now makes a new one.
    let mut again = Store::open(&d.path).unwrap();
    again.set_fixed_now(Some(d.t0));
    again.login(rsu_store::DEMO_SELLER_PIN, None).unwrap();
    let sale = again.sell(&cash(package(&d, 1))).unwrap();
    again.mark_printed(sale.id).unwrap();
    assert!(turn_path(&d.path).exists());
    sell_ok(&mut d, 1);
}
