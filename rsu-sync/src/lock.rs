//! One daemon per device database: an exclusive `flock` on `<db>.syncd.lock`, held for the
//! daemon's life and released by the kernel when the process ends, however it ends.

use rustix::fs::{flock, FlockOperation};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.syncd.lock", db.display()))
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another rsu-syncd (pid {pid}) is already syncing {db}: only one daemon may work on a device database. Stop it first (systemctl stop rsu-syncd) or use it")]
    Held { db: String, pid: String },
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl DaemonLock {
    /// Takes the lock without waiting, writing our pid into the file.
    pub fn acquire(db: &Path) -> Result<DaemonLock, LockError> {
        let path = lock_path(db);
        let io = |e: std::io::Error| LockError::Io {
            path: path.display().to_string(),
            source: e,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = match pid.trim() {
                // The holder writes its pid just after locking; we may have looked in between.
                "" => "unknown".to_string(),
                p => p.to_string(),
            };
            return Err(LockError::Held {
                db: db.display().to_string(),
                pid,
            });
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DaemonLock { _file: file, path })
    }

    /// Whether some process holds the lock now (for `status`).
    pub fn is_held(db: &Path) -> bool {
        let path = lock_path(db);
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            return false;
        };
        match flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let _ = flock(&file, FlockOperation::Unlock);
                false
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rsu.sqlite3");
        let first = DaemonLock::acquire(&db).unwrap();
        assert!(DaemonLock::is_held(&db));
        let err = DaemonLock::acquire(&db).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("already syncing"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        assert!(!DaemonLock::is_held(&db));
        DaemonLock::acquire(&db).unwrap();
    }
}
