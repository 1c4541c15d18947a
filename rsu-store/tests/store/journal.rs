//! The journal: gap-free and hash-chained, sync results that never touch hashed columns, and nothing destructive while entries are pending.

use rsu_store::{demo_config, EntryOutcome, SyncResult, DEMO_SELLER_PIN as SELLER};

use crate::*;

#[test]
fn the_journal_is_gap_free_and_chained_and_tampering_is_detected() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    for _ in 0..5 {
        sell_ok(&mut d, 1);
    }
    let (n, head) = d.store.verify_journal().unwrap();
    assert!(
        n >= 5 + 3,
        "demo-init, login and shift entries plus five sales"
    );
    assert!(head.is_some());
    let seqs: Vec<u64> = d
        .store
        .entries_from(1, 1)
        .unwrap()
        .iter()
        .map(|e| e.body.seq)
        .collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());

    // Change a sale's amount in place: the hash no longer matches.
    let c = d.store.connection();
    let seq: i64 = c
        .query_row(
            "SELECT seq FROM journal WHERE kind = 'sale' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE journal SET body_json = replace(body_json, '\"totalAmount\":500', '\"totalAmount\":1') WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    let err = d.store.verify_journal().unwrap_err();
    assert_eq!(err.code(), "chain_broken", "{err}");
    assert!(err.to_string().contains(&format!("seq {seq}")), "{err}");
}

#[test]
fn a_missing_journal_entry_is_reported_as_a_gap() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    sell_ok(&mut d, 1);
    let c = d.store.connection();
    c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    c.execute("DELETE FROM journal WHERE seq = 2", []).unwrap();
    let err = d.store.verify_journal().unwrap_err();
    assert!(err.to_string().contains("seq 3 follows 1"), "{err}");
    let report = d.store.startup_check();
    assert!(report.is_err());
    let failed: i64 = d
        .store
        .connection()
        .query_row(
            "SELECT count(*) FROM journal WHERE body_json LIKE '%INTEGRITY_FAILED%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        failed, 1,
        "the integrity failure is itself recorded as a critical event"
    );
}

#[test]
fn hashed_columns_never_change_when_sync_results_are_recorded() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 5);
    let before = d.store.entries_from(1, 1).unwrap();
    let pending = d.store.pending_entries(100).unwrap();
    let results: Vec<SyncResult> = pending
        .iter()
        .enumerate()
        .map(|(i, e)| SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: if i == 0 {
                EntryOutcome::Rejected {
                    code: "bad_tag".into(),
                    message: "tag does not match".into(),
                }
            } else {
                EntryOutcome::Applied
            },
        })
        .collect();
    d.store.record_results(&results).unwrap();
    d.store.record_results(&results).unwrap();
    let after = d.store.entries_from(1, 1).unwrap();
    assert_eq!(before, after);
    d.store.verify_journal().unwrap();
    let counts = d.store.sync_counts().unwrap();
    assert_eq!(counts.pending_entries, 0);
    assert_eq!(
        counts.rejected, 1,
        "a rejection is kept and counted, not dropped"
    );
}

#[test]
fn a_rejected_entry_does_not_hold_back_later_ones() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    sell_ok(&mut d, 1);
    let first = d.store.pending_entries(1).unwrap()[0].body.seq;
    d.store
        .record_results(&[SyncResult {
            epoch: 1,
            seq: first,
            outcome: EntryOutcome::Rejected {
                code: "x".into(),
                message: "y".into(),
            },
        }])
        .unwrap();
    let next = d.store.pending_entries(100).unwrap();
    assert!(next.iter().all(|e| e.body.seq > first));
    assert!(!next.is_empty());
}

#[test]
fn nothing_destructive_happens_while_entries_are_pending() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    assert_eq!(d.store.logout().unwrap_err().code(), "pending_entries");
    let (identity, _) = demo_config(d.t0).unwrap();
    assert_eq!(
        d.store.set_identity(&identity).unwrap_err().code(),
        "pending_entries"
    );
    assert_eq!(
        rsu_store::reset_database(&d.path).unwrap_err().code(),
        "pending_entries"
    );
    assert!(d.path.exists());
    // Locking the screen is always allowed: nothing is discarded.
    d.store.lock_screen().unwrap();
    // Export works and carries every entry.
    let mut out = Vec::new();
    let n = d.store.export_journal(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count() as u64, n);
    // Once synced, logout and re-enrollment (a new epoch) are allowed.
    ack_all(&mut d.store);
    d.store.login(SELLER, None).unwrap();
    ack_all(&mut d.store);
    d.store.logout().unwrap();
    ack_all(&mut d.store);
    assert_eq!(d.store.set_identity(&identity).unwrap(), 2);
    let pending = d.store.pending_entries(10).unwrap();
    assert_eq!(
        (pending[0].body.epoch, pending[0].body.seq),
        (2, 1),
        "a new epoch restarts seq at 1"
    );
}

/// The pending ticket total the offline cap reads (kept by triggers, migration 0008) against the
/// sum it replaced.
fn pending_totals(d: &Demo) -> (i64, i64) {
    let c = d.store.connection();
    let kept: i64 = c
        .query_row(
            "SELECT tickets FROM pending_tickets WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let summed: i64 = c
        .query_row(
            "SELECT coalesce(sum(s.ticket_count), 0) FROM sales s JOIN journal j
               ON j.epoch = s.epoch AND j.seq = s.seq WHERE j.sync_status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (kept, summed)
}

#[test]
fn the_pending_ticket_total_follows_every_sale_and_sync_answer() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    assert_eq!(pending_totals(&d), (0, 0));
    for n in [1, 5, 1, 5, 1] {
        sell_ok(&mut d, n);
        let (kept, summed) = pending_totals(&d);
        assert_eq!(kept, summed);
    }
    assert_eq!(pending_totals(&d).0, 13);
    let entries: Vec<_> = d
        .store
        .pending_entries(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.body.kind == rsu_core::journal::EntryKind::Sale)
        .collect();
    // The first sale applied, the second rejected, the rest still pending.
    let results: Vec<SyncResult> = entries[..2]
        .iter()
        .enumerate()
        .map(|(i, e)| SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: if i == 0 {
                EntryOutcome::Applied
            } else {
                EntryOutcome::Rejected {
                    code: "bad_tag".into(),
                    message: "m".into(),
                }
            },
        })
        .collect();
    d.store.record_results(&results).unwrap();
    d.store.record_results(&results).unwrap();
    assert_eq!(
        pending_totals(&d),
        (7, 7),
        "applied and rejected no longer count, once"
    );
    // An entry set back to pending counts again.
    d.store
        .connection()
        .execute(
            "UPDATE journal SET sync_status = 'pending' WHERE epoch = ?1 AND seq = ?2",
            rusqlite::params![entries[0].body.epoch, entries[0].body.seq],
        )
        .unwrap();
    assert_eq!(pending_totals(&d), (8, 8));
}
