//! Crash-safe file replacement: write a temporary file in the same folder, flush and fsync it,
//! rename it over the target, fsync the folder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of temporary files. User ids cannot start with `.`, so no user file has it.
pub const TEMP_PREFIX: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with what `write` produces, atomically: afterwards the file holds either its
/// old content or the whole new one, even if the process or the machine dies in between.
pub fn replace(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let staged = stage(path, write)?;
    staged.file.sync_all()?;
    staged.install()?;
    sync_dir(parent(path))
}

/// The new content of a file, written to a temporary file beside it: neither durable (see
/// [`Staged::handle`]) nor in place (see [`Staged::install`]) yet. Dropped uninstalled, the
/// temporary file is removed.
#[derive(Debug)]
#[must_use = "dropped uninstalled, the staged file is removed"]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    file: File,
    installed: bool,
}

impl Staged {
    /// A handle on the temporary file, to fsync it (before [`Staged::install`]).
    pub fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Renames the temporary file over its target; durable once the folder is synced.
    pub fn install(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.target)?;
        self.installed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.installed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes what `write` produces to a temporary file beside `path` (flushed, not fsynced).
pub fn stage(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<Staged> {
    let dir = parent(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = temp_path(dir, name);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let staged = Staged {
        temp,
        target: path.to_path_buf(),
        file,
        installed: false,
    };
    let mut writer = BufWriter::new(staged.handle()?);
    write(&mut writer)?;
    writer.into_inner().map_err(|e| e.into_error())?;
    Ok(staged)
}

/// Makes renames and creations in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The folder of `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh name for a temporary file or folder in `dir`.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(
        "{TEMP_PREFIX}{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The temporary files (and folders) in `dir`, by name.
pub fn temp_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        if let Some(name) = entry?.file_name().to_str()
            && name.starts_with(TEMP_PREFIX)
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The name of the file (or `delete-<id>` folder) a temporary file named `temp` was made for.
pub fn temp_target(temp: &str) -> Option<&str> {
    let rest = temp.strip_prefix(TEMP_PREFIX)?;
    let mut parts = rest.rsplitn(3, '-');
    let (_counter, _pid) = (parts.next()?, parts.next()?);
    parts.next()
}

/// Removes the temporary file or folder `dir/name`; one already gone (its writer installed it
/// between a listing and this call) is not an error.
pub fn remove_temp(dir: &Path, name: &str) -> io::Result<()> {
    let path = dir.join(name);
    let metadata = match fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // A folder is what an interrupted user deletion left.
    let result = if metadata.is_dir() {
        fs::remove_dir_all(&path)
    } else {
        fs::remove_file(&path)
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        replace(&path, |w| w.write_all(b"old")).unwrap();
        replace(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_content_and_removes_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        replace(&path, |w| w.write_all(b"old")).unwrap();
        let err = replace(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn names_the_target_of_a_temp_file() {
        let dir = Path::new("store");
        let temp = temp_path(dir, "bob-x@lab.org_features.npy");
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert_eq!(temp_target(name), Some("bob-x@lab.org_features.npy"));
        assert_eq!(temp_target("a.model.json"), None);
    }

    #[test]
    fn lists_temp_files_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".tmp-a.json-1-2"), b"x").unwrap();
        fs::write(dir.path().join("a.model.json"), b"x").unwrap();
        assert_eq!(temp_names(dir.path()).unwrap(), [".tmp-a.json-1-2"]);
        remove_temp(dir.path(), ".tmp-a.json-1-2").unwrap();
        assert!(temp_names(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn removing_a_temporary_file_already_gone_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        remove_temp(dir.path(), ".tmp-alice_metadata.json-1-1").unwrap();
    }
}
