//! The device database holds the validation key and the operators' PIN hashes: it, its `-wal`
//! and `-shm` files and every copy moved aside by a reset are readable and writable by their
//! owner only (0600), in a directory only the owner can enter when this crate creates it (0700).
//! A database file other users can open is refused with the command that fixes it.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// The mode of the database, its `-wal` and `-shm` files and their moved-aside copies.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of a data directory this crate creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The files SQLite keeps for the database at `path`: the database, its WAL and its shared memory.
pub(crate) fn database_files(path: &Path) -> [PathBuf; 3] {
    let name = path.as_os_str();
    let with = |suffix: &str| {
        let mut s = name.to_os_string();
        s.push(suffix);
        PathBuf::from(s)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Creates `dir` and any missing parents, owner-only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir).map_err(|e| StoreError::Io {
        what: format!("creating the data directory {}", dir.display()),
        source: e,
    })
}

/// Creates an empty database file, owner-only, unless one exists. SQLite then creates the
/// `-wal` and `-shm` files with the same mode as this file.
pub(crate) fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE_FILE_MODE);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io {
            what: format!("creating the database {}", path.display()),
            source: e,
        }),
    }
}

/// Refuses the database at `path` when it, its WAL or its shared-memory file can be opened by
/// anyone but its owner. A file that is not a database at all is left for SQLite to report
/// (`not_a_database` says more than a permission problem would).
pub(crate) fn refuse_shared_files(path: &Path) -> Result<(), StoreError> {
    for (i, file) in database_files(path).iter().enumerate() {
        let Some(mode) = shared_mode(file)? else {
            continue;
        };
        if i == 0 && !looks_like_sqlite(file)? {
            continue;
        }
        return Err(StoreError::NotPrivate {
            path: file.clone(),
            mode,
        });
    }
    Ok(())
}

/// The permission bits of `file` when group or others have any access; `None` when the file is
/// private or absent.
#[cfg(unix)]
fn shared_mode(file: &Path) -> Result<Option<u32>, StoreError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(file) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            Ok((mode & 0o077 != 0).then_some(mode))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io {
            what: format!("checking the permissions of {}", file.display()),
            source: e,
        }),
    }
}

#[cfg(not(unix))]
fn shared_mode(_file: &Path) -> Result<Option<u32>, StoreError> {
    Ok(None)
}

/// Whether `file` is empty or starts with the SQLite header.
fn looks_like_sqlite(file: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(file)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| StoreError::Io {
            what: format!("reading {}", file.display()),
            source: e,
        })?;
    Ok(head.is_empty() || head.starts_with(b"SQLite format 3\0"))
}

/// Makes `file` owner-only (a moved-aside copy keeps the secrets of the original).
pub(crate) fn make_private(file: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(|e| StoreError::Io {
                what: format!("making {} readable by its owner only", file.display()),
                source: e,
            })?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
