//! Free space on the store's file system, for the reserve below which nothing is written.

use std::io;
use std::path::Path;

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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn reports_some_free_space_for_a_temporary_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available_bytes(dir.path()).unwrap().unwrap() > 0);
    }
}
