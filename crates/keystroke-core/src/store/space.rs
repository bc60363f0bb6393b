//! The store's file system as the file system reports it, without writing: free space for the
//! reserve below which nothing is written, and whether it can take writes at all.

use std::io;
use std::path::Path;

use thiserror::Error;

/// Why the store cannot take writes now.
#[derive(Debug, Error)]
pub enum Unwritable {
    /// Its file system could not be asked.
    #[error("the store's file system cannot be inspected: {0}")]
    Uninspectable(io::Error),
    /// Mounted read-only.
    #[error("the model store's file system is read-only")]
    ReadOnly,
    /// No space left for an unprivileged writer.
    #[error("the model store's file system is full")]
    Full,
}

/// Bytes available to this (unprivileged) process on the file system holding `dir`; `None`
/// where the platform cannot tell.
pub fn available_bytes(dir: &Path) -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        let stats = rustix::fs::statvfs(dir)?;
        Ok(Some(stats.f_bavail.saturating_mul(stats.f_frsize)))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// `Err` with the reason when the file system holding `dir` is mounted read-only or has no
/// space left for an unprivileged writer.
pub fn writable(dir: &Path) -> Result<(), Unwritable> {
    #[cfg(unix)]
    {
        let stats = rustix::fs::statvfs(dir).map_err(|e| Unwritable::Uninspectable(e.into()))?;
        if stats.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
            return Err(Unwritable::ReadOnly);
        }
        if stats.f_bavail == 0 {
            return Err(Unwritable::Full);
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn reports_some_free_space_for_a_temporary_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available_bytes(dir.path()).unwrap().unwrap() > 0);
    }

    #[test]
    fn a_temporary_folder_is_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(writable(dir.path()).is_ok());
    }

    #[test]
    fn a_missing_folder_is_reported() {
        let err = writable(Path::new("/nonexistent/keystroke-workbench")).unwrap_err();
        assert!(matches!(err, Unwritable::Uninspectable(_)), "{err}");
        assert!(err.to_string().contains("cannot be inspected"), "{err}");
    }
}
