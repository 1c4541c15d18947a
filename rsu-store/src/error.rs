//! The store's error type. Every message says what happened and what to do.

use rsu_core::SaleRefusal;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] SaleRefusal),
    #[error("the database {} failed its integrity check ({detail}). It has been left untouched because it may hold unsynced sales: do not delete it; copy it off the device and contact support", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{} is not a device database (or it is encrypted or damaged). It has been left untouched: check the --db path", .0.display())]
    NotADatabase(PathBuf),
    #[error("the device database file {} can be opened by other users of this machine (mode {mode:04o}), and it holds the validation key and the PIN hashes. It has been left untouched: make it private with `chmod 600 {}`, then try again", path.display(), path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("no device database at {}: create one with `rsu-app demo-init` or enroll the device", .0.display())]
    Missing(PathBuf),
    #[error(
        "the disk is full: nothing was recorded. Free some space on the device, then try again"
    )]
    DiskFull,
    #[error("the database schema version {found} is newer than this program supports ({supported}): install the newer rsu-app")]
    TooNew { found: i64, supported: i64 },
    #[error("this device is not set up: run `rsu-app demo-init` or `rsu-app enroll`")]
    NotEnrolled,
    #[error("{count} journal entries have not reached the server yet: {action} is refused so they cannot be lost. Sync first, or export the journal with `rsu-app export`")]
    PendingEntries { count: u64, action: &'static str },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("{0}")]
    Invalid(String),
    #[error("the journal does not verify: {0}. Do not delete the database; contact support")]
    Chain(rsu_core::journal::JournalError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

/// Why a PIN was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("Wrong PIN ({attempts_left} attempts left before the keypad locks).")]
    WrongPin { attempts_left: u32 },
    #[error("Too many wrong PINs: the keypad is locked until {until}. Ask a supervisor.")]
    LockedOut { until: String },
    #[error("A supervisor PIN is needed for this.")]
    NotSupervisor,
    #[error("This PIN belongs to more than one operator, so it cannot say who you are: login is refused. Ask the raffle manager to give each operator a PIN of their own.")]
    AmbiguousPin,
    #[error("A PIN is 4 to 8 digits.")]
    BadForm,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::DiskFull {
                return StoreError::DiskFull;
            }
        }
        StoreError::Sqlite(e)
    }
}

impl StoreError {
    /// Turns low-level file errors met while opening into the clear variants.
    pub(crate) fn classify(e: rusqlite::Error, path: &Path) -> StoreError {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            match f.code {
                rusqlite::ErrorCode::NotADatabase => return StoreError::NotADatabase(path.into()),
                rusqlite::ErrorCode::DatabaseCorrupt => {
                    return StoreError::Corrupt {
                        path: path.into(),
                        detail: msg.clone().unwrap_or_else(|| "malformed".into()),
                    }
                }
                _ => {}
            }
        }
        StoreError::from(e)
    }

    pub(crate) fn at(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sqlite(e) => StoreError::classify(e, path),
            other => other,
        }
    }

    /// A stable code for scripts (`--json`) and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Refused(r) => r.code(),
            StoreError::Corrupt { .. } => "database_corrupt",
            StoreError::NotADatabase(_) => "not_a_database",
            StoreError::Missing(_) => "database_missing",
            StoreError::NotPrivate { .. } => "database_not_private",
            StoreError::DiskFull => "disk_full",
            StoreError::TooNew { .. } => "schema_too_new",
            StoreError::NotEnrolled => "not_enrolled",
            StoreError::PendingEntries { .. } => "pending_entries",
            StoreError::NotFound(_) => "not_found",
            StoreError::Login(LoginError::WrongPin { .. }) => "wrong_pin",
            StoreError::Login(LoginError::LockedOut { .. }) => "locked_out",
            StoreError::Login(LoginError::NotSupervisor) => "not_supervisor",
            StoreError::Login(LoginError::AmbiguousPin) => "ambiguous_pin",
            StoreError::Login(LoginError::BadForm) => "bad_pin_form",
            StoreError::Invalid(_) => "invalid",
            StoreError::Chain(_) => "chain_broken",
            StoreError::Io { .. } => "io",
            StoreError::Sqlite(_) => "database_error",
        }
    }
}

impl From<rsu_core::journal::JournalError> for StoreError {
    fn from(e: rsu_core::journal::JournalError) -> Self {
        StoreError::Chain(e)
    }
}
