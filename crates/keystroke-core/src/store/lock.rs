//! Cross-process locks on a store folder: OS advisory locks (`flock(2)` on Unix, `LockFileEx`
//! on Windows, through `std::fs::File::lock`), so the server, the workbench and the command line
//! can share one folder.
//!
//! - The **store lock** is the folder itself: every writer holds it shared, a whole-store
//!   operation (`store check`) exclusively. It creates no file.
//! - A **user lock** is `.locks/<id>.lock`, held exclusively by the one writer of that user in
//!   any process. Deleting a user removes its lock file while holding it; a process that was
//!   waiting then finds its lock on a file no longer in the folder, and opens the new one.
//!
//! A lock is released when its guard drops, and by the OS when its process dies.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Folder (inside the store) of the per-user lock files.
pub const LOCKS_DIR: &str = ".locks";

/// A held lock; released on drop.
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    _file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Removes the lock file (its holder is deleting what it guards). Another process waiting
    /// on it notices the file is gone and locks a new one.
    pub fn remove_file(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// How a lock is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Shared with other shared holders (writers of different users, on the store lock).
    Shared,
    /// The only holder.
    Exclusive,
}

/// Locks the store folder `dir`, waiting for it.
pub fn store(dir: &Path, mode: Mode) -> io::Result<LockGuard> {
    let file = File::open(dir)?;
    match mode {
        Mode::Shared => file.lock_shared()?,
        Mode::Exclusive => file.lock()?,
    }
    Ok(LockGuard {
        _file: file,
        path: dir.to_path_buf(),
    })
}

/// The lock file of the user whose id is `id`.
pub fn user_lock_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(LOCKS_DIR).join(format!("{id}.lock"))
}

/// Locks `path` (a user lock file, created if needed) exclusively, waiting for it.
pub fn user(path: &Path) -> io::Result<LockGuard> {
    loop {
        let file = open_lock_file(path)?;
        file.lock()?;
        if still_in_place(&file, path)? {
            return Ok(LockGuard {
                _file: file,
                path: path.to_path_buf(),
            });
        }
    }
}

/// Locks `path` exclusively if nobody holds it; `None` when another holder does.
pub fn try_user(path: &Path) -> io::Result<Option<LockGuard>> {
    loop {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e),
        }
        if still_in_place(&file, path)? {
            return Ok(Some(LockGuard {
                _file: file,
                path: path.to_path_buf(),
            }));
        }
    }
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// Whether the locked `file` is still the one at `path` (a deletion may have removed it while
/// this process waited).
fn still_in_place(file: &File, path: &Path) -> io::Result<bool> {
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(current) => Ok(same_file(&held, &current)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    // Windows cannot remove a file another process holds open, so a held lock file is the
    // one in place.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_user_lock_is_not_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = user_lock_path(dir.path(), "alice");
        let held = user(&path).unwrap();
        assert!(try_user(&path).unwrap().is_none());
        drop(held);
        assert!(try_user(&path).unwrap().is_some());
    }

    #[test]
    fn a_removed_lock_file_is_replaced_by_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = user_lock_path(dir.path(), "alice");
        let held = user(&path).unwrap();
        held.remove_file().unwrap();
        // The old file is gone, so the lock is free to take on a new one at once.
        let again = try_user(&path).unwrap().expect("a fresh lock file");
        assert!(path.exists());
        drop((held, again));
    }

    #[test]
    fn an_exclusive_store_lock_waits_for_shared_holders() {
        let dir = tempfile::tempdir().unwrap();
        let shared = store(dir.path(), Mode::Shared).unwrap();
        let _second = store(dir.path(), Mode::Shared).unwrap();
        let probe = File::open(dir.path()).unwrap();
        assert!(matches!(probe.try_lock(), Err(TryLockError::WouldBlock)));
        drop((shared, _second));
        assert!(probe.try_lock().is_ok());
    }
}
