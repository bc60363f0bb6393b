//! Whether the store's file system can take writes, asked of the file system without writing.

use std::path::Path;

/// `Err` with the reason when the file system holding `dir` is mounted read-only or has no
/// space left for an unprivileged writer.
#[cfg(unix)]
pub fn writable(dir: &Path) -> Result<(), String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| "the store's folder name holds a NUL byte".to_string())?;
    // SAFETY: `path` is a valid NUL-terminated string and `stats` a properly sized buffer that
    // statvfs fills in.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(format!(
            "the store's file system cannot be inspected: {}",
            std::io::Error::last_os_error()
        ));
    }
    if stats.f_flag & libc::ST_RDONLY != 0 {
        return Err("the model store's file system is read-only".into());
    }
    if stats.f_bavail == 0 {
        return Err("the model store's file system is full".into());
    }
    Ok(())
}

/// Elsewhere nothing is known in advance; failed writes still report themselves.
#[cfg(not(unix))]
pub fn writable(_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_folder_is_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(writable(dir.path()), Ok(()));
    }

    #[test]
    fn a_missing_folder_is_reported() {
        let err = writable(Path::new("/nonexistent/keystroke-workbench")).unwrap_err();
        assert!(err.contains("cannot be inspected"), "{err}");
    }
}
