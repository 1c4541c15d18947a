//! The device's private key on disk: PKCS#8 v2 as `ring` makes it, mode 0600, next to the
//! database, one file per key id (`<db file name>.<key id>.pk8`). Naming the file by key id means
//! the store (which holds the key id) and the key file can never disagree, whatever crashes
//! between enrollment steps: an old key file stays until the new identity is committed.

use rsu_core::wire::DeviceKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

use crate::SyncError;

fn db_dir_and_name(db: &Path) -> (PathBuf, String) {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rsu.sqlite3".into());
    (dir, name)
}

/// The key file of `key_id` for the database at `db`.
pub fn key_path(db: &Path, key_id: Uuid) -> PathBuf {
    let (dir, name) = db_dir_and_name(db);
    dir.join(format!("{name}.{key_id}.pk8"))
}

/// Where a key waits while enrollment is in flight.
pub fn pending_key_path(db: &Path) -> PathBuf {
    let (dir, name) = db_dir_and_name(db);
    dir.join(format!("{name}.enrolling.pk8"))
}

/// Where a key waits while a rotation is in flight.
pub fn rotating_key_path(db: &Path) -> PathBuf {
    let (dir, name) = db_dir_and_name(db);
    dir.join(format!("{name}.rotating.pk8"))
}

/// Writes `bytes` to `path` readable and writable by the owner only, durably (file and directory
/// fsync'd). Replaces an existing file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SyncError> {
    let io =
        |what: &str, e: std::io::Error| SyncError::Key(format!("{what} {}: {e}", path.display()));
    let tmp = path.with_extension("pk8.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| io("cannot create", e))?;
    f.write_all(bytes).map_err(|e| io("cannot write", e))?;
    f.sync_all().map_err(|e| io("cannot sync", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("cannot move into place", e))?;
    sync_dir(path);
    Ok(())
}

/// Moves a key file into place durably.
pub fn rename(from: &Path, to: &Path) -> Result<(), SyncError> {
    std::fs::rename(from, to).map_err(|e| {
        SyncError::Key(format!(
            "cannot move {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })?;
    sync_dir(to);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
}

/// Reads the key of `key_id`, refusing a file that others can read.
pub fn load(db: &Path, key_id: Uuid) -> Result<DeviceKey, SyncError> {
    load_path(&key_path(db, key_id))
}

/// Reads the key file at `path`, refusing a file that others can read.
pub fn load_path(path: &Path) -> Result<DeviceKey, SyncError> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|e| {
        SyncError::Key(format!(
            "cannot read the device key {}: {e}. If it was lost, enroll the device again with a new token",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(&path) {
            if m.permissions().mode() & 0o077 != 0 {
                return Err(SyncError::Key(format!(
                    "{} is readable by other users (mode {:o}): run `chmod 600 {}`",
                    path.display(),
                    m.permissions().mode() & 0o777,
                    path.display()
                )));
            }
        }
    }
    DeviceKey::from_pkcs8(&bytes).map_err(|e| SyncError::Key(format!("{}: {e}", path.display())))
}
