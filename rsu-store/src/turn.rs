//! Turns at the write lock between the kiosk and the sync daemon (issue 16).
//!
//! SQLite lets one writer in at a time and has no queue: a writer that finds the file locked
//! sleeps and tries again (1, 2, 5, 10 … 100 ms). A kiosk selling back to back holds the lock
//! almost all the time and takes it again microseconds after each commit, so the daemon's write
//! of a batch's answers kept losing the race and the backlog drained at a trickle. The turn
//! file `<db>.turn` gives the daemon its turn: it holds an exclusive `flock` on the file for the
//! length of its write transaction ([`Turn::take`]); every other writer, before it begins,
//! waits while the file is held ([`Turn::wait`]). The daemon then waits for at most the one
//! transaction already running, and the kiosk waits for at most one of the daemon's.
//!
//! The turn is a courtesy on top of SQLite's own locking, never in place of it: the wait is
//! bounded ([`MAX_WAIT`]) so a daemon stopped while holding its turn cannot stop the kiosk
//! selling, and the kernel drops the lock of a process that dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::privacy::PRIVATE_FILE_MODE;

/// The longest a writer waits for the daemon's turn to end before it goes ahead and lets
/// SQLite's busy timeout decide. One daemon write (a batch's answers) takes milliseconds.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// How often a waiting writer looks again.
const POLL: Duration = Duration::from_micros(100);

/// The busy handler of the store that takes turns: looks again every [`POLL`], for as long as
/// the busy timeout of every store (10 s), measured by the clock rather than by counting.
pub(crate) fn poll_busy(attempt: i32) -> bool {
    thread_local! {
        static SINCE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
    }
    let since = SINCE.with(|s| {
        if attempt == 0 || s.get().is_none() {
            s.set(Some(Instant::now()));
        }
        s.get().map_or(Duration::ZERO, |t| t.elapsed())
    });
    if since >= crate::BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(POLL);
    true
}

/// The turn file of the database at `db`.
pub fn turn_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.turn", db.display()))
}

/// The open turn file of one store.
#[derive(Debug)]
pub(crate) struct Turn {
    file: File,
}

/// The daemon's turn; released when dropped (after its transaction ends).
#[derive(Debug)]
pub(crate) struct TurnGuard<'a> {
    file: &'a File,
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        // Nothing to do on failure: the lock goes with the file when the store closes.
        let _ = self.file.unlock();
    }
}

impl Turn {
    /// Opens (creating owner-only) the turn file beside the database. `None` when it cannot be
    /// opened (a read-only directory): writers then rely on SQLite's locking alone.
    pub(crate) fn open(db: &Path) -> Option<Turn> {
        let path = turn_path(db);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE_FILE_MODE)
            .open(&path)
        {
            Ok(file) => Some(Turn { file }),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "no turn file: the sync daemon may drain slowly while the kiosk sells");
                None
            }
        }
    }

    /// Takes the turn (the daemon, before its write transaction), waiting for another holder.
    pub(crate) fn take(&self) -> Option<TurnGuard<'_>> {
        match self.file.lock() {
            Ok(()) => Some(TurnGuard { file: &self.file }),
            Err(_) => None,
        }
    }

    /// Waits while someone holds the turn, for at most [`MAX_WAIT`] (every other writer, before
    /// it begins). Returns how long it waited.
    pub(crate) fn wait(&self) -> Duration {
        let start = Instant::now();
        loop {
            match self.file.try_lock_shared() {
                Ok(()) => {
                    let _ = self.file.unlock();
                    return start.elapsed();
                }
                Err(TryLockError::WouldBlock) if start.elapsed() < MAX_WAIT => {
                    std::thread::sleep(POLL)
                }
                Err(_) => return start.elapsed(),
            }
        }
    }
}
