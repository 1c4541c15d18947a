//! The device's SQLite store, shared by the kiosk (`rsu-app`) and the sync daemon (`rsu-syncd`).
//!
//! Two processes open the same file: WAL mode lets the daemon read while the kiosk sells, and every
//! write is one short `BEGIN IMMEDIATE` transaction with a busy timeout, so neither sees
//! `SQLITE_BUSY`. `synchronous=FULL` makes a committed sale survive power loss (DESIGN §3.1).
//! A database that fails its checks is reported and kept: it may hold unsynced sales, so this
//! crate never deletes or recreates one. The database holds the validation key and the PIN
//! hashes, so it and every copy of it are owner-only (`privacy.rs`).

mod allocation;
pub mod closing;
mod config;
mod demo;
pub mod device_info;
pub mod draw_results;
mod error;
mod journal;
mod people;
mod perks;
mod printer_status;
mod privacy;
mod receipt_qr;
mod sale;
mod session;
mod status;
mod sync_state;
#[cfg(feature = "testkit")]
pub mod testkit;
mod turn;

pub use closing::CloseReport;
pub use config::{DeviceIdentity, MAX_CLOCK_STEP_BACK_MS};
pub use demo::{demo_config, demo_drawn_config, DEMO_SELLER_PIN, DEMO_SUPERVISOR_PIN};
pub use device_info::{DeviceContext, EventSummary};
pub use draw_results::{EventResults, TicketCheck, WinningTicket};
pub use error::{LoginError, StoreError};
pub use journal::{write_export_lines, EntryOutcome, SyncResult};
pub use people::{lockout_minutes, Operator, Shift, LOCKOUT_MINUTES, MAX_PIN_ATTEMPTS};
pub use perks::PerkAllocationStatus;
pub use printer_status::PrinterReport;
pub use privacy::{PRIVATE_DIR_MODE, PRIVATE_FILE_MODE};
pub use receipt_qr::sign_receipt_qr;
pub use sale::{PrintState, ReceiptContext, RequiredReceiptExtras, Sale, SaleRequest};
pub use status::{
    reset_database, AllocationStatus, StartupReport, Status, SyncCounts, VerifyReport,
};
pub use sync_state::{EnrollmentFacts, KeyState, SyncIdentity, SyncState, TopUpCandidate};
pub use turn::{turn_path, MAX_WAIT as TURN_MAX_WAIT};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The device schema, in order. Each is applied once, in its own transaction, tracked by
/// `PRAGMA user_version`. A released migration is never edited.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/device/0001_init.sql"),
    include_str!("../../migrations/device/0002_sync.sql"),
    include_str!("../../migrations/device/0003_device_life.sql"),
    include_str!("../../migrations/device/0004_device_extras.sql"),
    include_str!("../../migrations/device/0005_close.sql"),
    include_str!("../../migrations/device/0006_receipt_qr.sql"),
    include_str!("../../migrations/device/0007_draw_results.sql"),
    include_str!("../../migrations/device/0008_pending_tickets.sql"),
    include_str!("../../migrations/device/0009_perks.sql"),
];

/// Statements kept prepared per connection: a sale runs about thirty distinct statements, and
/// preparing them again on every sale was a quarter of its time (issue 16, `benches/sell.rs`).
const STATEMENT_CACHE: usize = 128;

/// `query_row` and `execute` through the connection's statement cache, for the hot paths (a
/// sale): the same signatures as rusqlite's, without parsing and planning the SQL each time.
pub(crate) trait CachedSql {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl CachedSql for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// How long a writer waits for the other process before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open device store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Tests pin the clock; production reads the system clock plus the server offset.
    fixed_now: Option<DateTime<Utc>>,
    /// Turns at the write lock (`turn.rs`); `None` when the turn file cannot be opened.
    turn: Option<turn::Turn>,
    /// Whether this store's writes take the turn (the sync daemon) or wait for it (the rest).
    takes_turns: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if absent) the store at `path`, sets the pragmas, checks the file and
    /// applies pending migrations. A damaged file is reported as [`StoreError::Corrupt`] and left
    /// exactly where it is.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_data_dir(&path)?;
        // The file holds the validation key and the PIN hashes: refuse one other users can
        // open, and create a new one owner-only (SQLite gives its -wal and -shm the same mode).
        privacy::refuse_shared_files(&path)?;
        privacy::create_private_file(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError::classify(e, &path))?;
        let turn = turn::Turn::open(&path);
        let mut store = Store {
            conn,
            path,
            fixed_now: None,
            turn,
            takes_turns: false,
        };
        store.configure().map_err(|e| e.at(&store.path))?;
        store.integrity_check()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens a store that must already exist (the sync daemon never creates one).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let p = path.as_ref();
        if !p.exists() {
            return Err(StoreError::Missing(p.to_path_buf()));
        }
        Store::open(p)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        self.conn
            .set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // journal_mode answers with the mode in force; a non-database file fails right here.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "the database could not switch to WAL mode (it is in {mode} mode)"
            )));
        }
        self.conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA wal_autocheckpoint = 1000;",
        )?;
        Ok(())
    }

    fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| StoreError::classify(e, &self.path))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| StoreError::classify(e, &self.path))?;
        if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: rows.join("; "),
            })
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let latest = MIGRATIONS.len() as i64;
        if current > latest {
            return Err(StoreError::TooNew {
                found: current,
                supported: latest,
            });
        }
        if current == latest {
            return Ok(());
        }
        // A migration that rebuilds a table (0009 rebuilds the journal to widen a CHECK) must
        // run with foreign keys off, which SQLite allows only outside a transaction; each
        // migration checks them itself before it commits (SQLite's table-rebuild procedure).
        self.conn.pragma_update(None, "foreign_keys", false)?;
        let outcome = self.apply_migrations(current);
        self.conn.pragma_update(None, "foreign_keys", true)?;
        outcome
    }

    fn apply_migrations(&mut self, current: i64) -> Result<(), StoreError> {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken > 0 {
                return Err(StoreError::Invalid(format!(
                    "migration {} would leave {broken} rows pointing at rows that do not exist: \
                     the database was not changed; keep it and report it",
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pins the clock (tests and the crash harness). `None` returns to the system clock.
    pub fn set_fixed_now(&mut self, now: Option<DateTime<Utc>>) {
        self.fixed_now = now;
    }

    /// The device's notion of now: the system clock corrected by the server offset.
    pub fn now(&self) -> Result<DateTime<Utc>, StoreError> {
        if let Some(t) = self.fixed_now {
            return Ok(t);
        }
        let offset: Option<i64> = self
            .conn
            .query_row_cached("SELECT clock_offset_ms FROM device WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(Utc::now() + chrono::Duration::milliseconds(offset.unwrap_or(0)))
    }

    /// Limits the file size in pages. Used by tests to simulate a full disk.
    pub fn set_max_page_count(&self, pages: i64) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })?)
    }

    /// Direct access for tests and benchmarks in this workspace.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Makes this store's writes take their turn at the write lock instead of waiting for it
    /// (`turn.rs`): the sync daemon, so that a kiosk selling back to back cannot starve it.
    pub fn take_write_turns(&mut self) -> Result<(), StoreError> {
        self.takes_turns = true;
        // Holding the turn, the daemon waits for at most the one transaction already running:
        // it looks again every 100 µs instead of SQLite's 1, 2, 5 … ms sleeps, during which the
        // kiosk, waiting for the turn, would sit idle too.
        self.conn.busy_handler(Some(turn::poll_busy))?;
        Ok(())
    }

    /// Begins a write (`BEGIN IMMEDIATE`), after the daemon's turn if it holds one, or holding
    /// the turn until the transaction ends if this is the daemon.
    pub(crate) fn begin(&mut self) -> Result<WriteTx<'_>, StoreError> {
        let guard = match &self.turn {
            Some(t) if self.takes_turns => t.take(),
            Some(t) => {
                t.wait();
                None
            }
            None => None,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(WriteTx { tx, _turn: guard })
    }
}

/// A write transaction and, for the daemon, its turn at the write lock (released after the
/// transaction ends: `tx` is dropped first). Used as the `rusqlite::Transaction` it holds.
pub(crate) struct WriteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    _turn: Option<turn::TurnGuard<'a>>,
}

impl<'a> std::ops::Deref for WriteTx<'a> {
    type Target = rusqlite::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl WriteTx<'_> {
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }
}

/// Creates the directory that holds the database at `path`, owner-only (0700), when it does not
/// exist yet. [`Store::open`] does this itself; a caller that puts a file beside the database
/// before opening it (enrollment's lock file) calls this first.
pub fn create_data_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            privacy::create_private_dir(dir)
        }
        _ => Ok(()),
    }
}

/// Formats a time for storage (RFC 3339, UTC, milliseconds): such strings sort in time order.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    rsu_core::journal::format_time(t)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Invalid(format!("stored time {s:?} is not RFC 3339")))
}

pub(crate) fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(s)
        .map_err(|_| StoreError::Invalid(format!("stored id {s:?} is not a UUID")))
}
