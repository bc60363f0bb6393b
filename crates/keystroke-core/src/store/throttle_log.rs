//! `throttle.log`: every user's failed-attempt state in one append-only file, so that the
//! server's background flush of many users' counts costs one write and one fsync, not one
//! file replacement (and its fsyncs) per user.
//!
//! The first line is a format header; each other line is `{"user": id, "state": {...}}`, and
//! a user's last line is their state. Appends hold the store lock shared and the log's own
//! lock (`.locks/.throttle.lock`, never a user's: user ids cannot start with `.`), so
//! `store check` sees no half-written line and two processes never interleave. A crash can
//! leave a torn last line: readers ignore an unfinished line, and the next append (under the
//! lock, so nobody is writing it) cuts it off first. Any other unreadable line is damage:
//! every attempt is refused (never scored with a count that may be lost) until
//! `store check --repair` rewrites the log from its readable lines.
//!
//! Past [`COMPACT_BYTES`] the log is rewritten with one line per user (temporary file, fsync,
//! rename); a process holding the old file notices the new inode and reads the new one.
//! States of older builds (`<id>_throttle.json`) are read when the log has nothing for the
//! user, and removed once the log has a newer state.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use serde::{Deserialize, Serialize};

use super::{StoreError, ThrottleState, UserId, atomic, io_error, lock};

/// The log's file name in the store folder.
pub const THROTTLE_LOG: &str = "throttle.log";

/// The log's format, named in its first line.
const FORMAT: &str = "keystroke-workbench/throttle-log";

/// The newest version of the format this build reads and writes.
const VERSION: u64 = 1;

/// A log longer than this is compacted after an append.
pub const COMPACT_BYTES: u64 = 1 << 20;

/// The header line is shorter than this.
const MAX_HEADER_BYTES: u64 = 512;

/// The first line: the format, and an id of this file (so a reader that last saw another file
/// with the same inode number, reused after a compaction, notices it is another file).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u64,
    id: String,
}

impl Header {
    fn fresh() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            id: format!("{:016x}", rand::random::<u64>()),
        }
    }
}

/// One line after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    user: UserId,
    state: ThrottleState,
}

/// The log of one store folder, and what this process has read of it.
#[derive(Debug)]
pub struct ThrottleLog {
    path: PathBuf,
    lock_path: PathBuf,
    index: Mutex<Index>,
}

/// The states read so far from one file.
#[derive(Debug, Default)]
struct Index {
    /// Every user with a line, by their last line (including all-zero states, which say
    /// the old per-user file, if any, is out of date).
    states: HashMap<UserId, ThrottleState>,
    /// The file read: its inode and header line; `None` before the first read or while
    /// there is no file.
    file: Option<(u64, Vec<u8>)>,
    /// Bytes read and parsed: always the end of a complete line.
    read_to: u64,
}

/// What reading the whole log found (for `store check`).
#[derive(Debug)]
pub struct LogReport {
    /// The last state of each user with a readable line.
    pub states: HashMap<UserId, ThrottleState>,
    /// Unreadable complete lines, by 1-based number, with why.
    pub damaged: Vec<(usize, String)>,
    /// Bytes up to the end of the last complete line (a torn tail is past it).
    pub complete_bytes: u64,
    /// The file's length.
    pub len: u64,
}

impl ThrottleLog {
    /// The log of the store folder `dir` (nothing is read yet).
    pub fn new(dir: &Path) -> ThrottleLog {
        ThrottleLog {
            path: dir.join(THROTTLE_LOG),
            lock_path: dir.join(lock::LOCKS_DIR).join(".throttle.lock"),
            index: Mutex::new(Index::default()),
        }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file every writer of the log holds.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The user's last state in the log, `None` when the log has no line for them.
    pub fn state(&self, user: &UserId) -> Result<Option<ThrottleState>, StoreError> {
        let mut index = self.index();
        self.catch_up(&mut index)?;
        Ok(index.states.get(user).cloned())
    }

    /// The user's last state as last read (no file access): what another process wrote shows
    /// here once anything in this process has read the log since ([`ThrottleLog::readable`],
    /// which a server's background flush calls every few tens of milliseconds).
    /// It never waits: while the log is being read or rewritten it says `None` (nothing new).
    pub fn known_state(&self, user: &UserId) -> Option<ThrottleState> {
        let index = match self.index.try_lock() {
            Ok(index) => index,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        index.states.get(user).cloned()
    }

    /// Whether the log can be read (reading what was appended since the last look).
    pub fn readable(&self) -> Result<(), StoreError> {
        let mut index = self.index();
        self.catch_up(&mut index)
    }

    /// Reads what was appended since the last read (all of it when the file was replaced).
    fn catch_up(&self, index: &mut Index) -> Result<(), StoreError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                *index = Index::default();
                return Ok(());
            }
            Err(source) => return Err(self.io("open", source)),
        };
        let inode = inode(&file).map_err(|e| self.io("inspect", e))?;
        let mut head = Vec::with_capacity(256);
        (&mut file)
            .take(MAX_HEADER_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| self.io("read", e))?;
        let Some(header_end) = head.iter().position(|&b| b == b'\n') else {
            if head.len() as u64 == MAX_HEADER_BYTES {
                return Err(self.damaged(format!("the first line is not a {FORMAT} header")));
            }
            return Ok(()); // a file being created
        };
        let identity = (inode, head[..header_end].to_vec());
        let len = file.metadata().map_err(|e| self.io("inspect", e))?.len();
        if index.file.as_ref() != Some(&identity) || len < index.read_to {
            *index = Index {
                file: Some(identity),
                ..Index::default()
            };
        }
        file.seek(SeekFrom::Start(index.read_to))
            .map_err(|e| self.io("read", e))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)
            .map_err(|e| self.io("read", e))?;
        let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
            return Ok(()); // nothing new, or only a line being written
        };
        for (_, line) in lines(&tail[..end], index.read_to == 0) {
            match line {
                Ok(Some(Line { user, state })) => {
                    index.states.insert(user, state);
                }
                Ok(None) => {}
                Err(message) => return Err(self.damaged(message)),
            }
        }
        index.read_to += end as u64 + 1;
        Ok(())
    }

    /// Appends `states` (one line each) and makes them durable, then removes the old per-user
    /// files they supersede (`legacy_file` names a user's). Refused, writing nothing, while
    /// the log has a damaged line — also with no states, which only reads what is new.
    pub fn append(
        &self,
        dir: &Path,
        states: &[(UserId, ThrottleState)],
        legacy_file: impl Fn(&UserId) -> PathBuf,
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return self.readable();
        }
        let _locks = self.lock(dir)?;
        let len = self.append_locked(dir, states, &legacy_file)?;
        if len > COMPACT_BYTES
            && let Err(e) = self.compact(&legacy_file)
        {
            // The lines are durable; a longer log is only slower to read.
            log::warn!("cannot compact the throttle log: {e}");
        }
        Ok(())
    }

    /// Clears `user`'s state and rewrites the log without their lines (the user is deleted:
    /// not even their id stays).
    pub fn erase(
        &self,
        dir: &Path,
        user: &UserId,
        legacy_file: impl Fn(&UserId) -> PathBuf,
    ) -> Result<(), StoreError> {
        let _locks = self.lock(dir)?;
        self.append_locked(
            dir,
            &[(user.clone(), ThrottleState::default())],
            &legacy_file,
        )?;
        self.compact(&legacy_file)
    }

    /// The store lock (shared) and the log's own lock.
    fn lock(&self, dir: &Path) -> Result<[lock::LockGuard; 2], StoreError> {
        let store =
            lock::store(dir, lock::Mode::Shared).map_err(io_error("lock the store folder", dir))?;
        let log = lock::user(&self.lock_path).map_err(io_error("lock", &self.lock_path))?;
        Ok([store, log])
    }

    /// [`ThrottleLog::append`] under the caller's locks; returns the log's new length.
    fn append_locked(
        &self,
        dir: &Path,
        states: &[(UserId, ThrottleState)],
        legacy_file: &impl Fn(&UserId) -> PathBuf,
    ) -> Result<u64, StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| self.io("open", e))?;
        let len = cut_torn_tail(&mut file).map_err(|e| self.io("repair the end of", e))?;
        let mut bytes = Vec::new();
        if len == 0 {
            line_bytes(&mut bytes, &Header::fresh());
        } else {
            // Nothing is appended after a damaged line (`store check --repair` first).
            self.readable()?;
        }
        for (user, state) in states {
            line_bytes(&mut bytes, &LineRef { user, state });
        }
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| self.io("append to", e))?;
        if len == 0 {
            atomic::sync_dir(dir).map_err(io_error("sync", dir))?;
        }
        // An old per-user file can only exist for a user the log had no line for. (The lines
        // just written join the index; reading the file later applies every line in order.)
        let known: Vec<bool> = {
            let mut index = self.index();
            states
                .iter()
                .map(|(user, state)| index.states.insert(user.clone(), state.clone()).is_some())
                .collect()
        };
        for ((user, _), known) in states.iter().zip(known) {
            if !known {
                remove_legacy(&legacy_file(user))?;
            }
        }
        Ok(len + bytes.len() as u64)
    }

    /// Rewrites the log with one line per user whose state is not all zero, removing the old
    /// per-user files of those dropped (the caller holds the locks).
    fn compact(&self, legacy_file: &impl Fn(&UserId) -> PathBuf) -> Result<(), StoreError> {
        // A copy, so that readers are not held up by the rewrite (no line can be appended
        // meanwhile: the caller holds the log's lock).
        let states = {
            let mut index = self.index();
            self.catch_up(&mut index)?;
            index.states.clone()
        };
        let (kept, dropped): (Vec<_>, Vec<_>) = states
            .iter()
            .partition(|(_, state)| **state != ThrottleState::default());
        for (user, _) in &dropped {
            remove_legacy(&legacy_file(user))?;
        }
        self.write_all(kept)?;
        // Read the new file from the start at the next look.
        *self.index() = Index::default();
        Ok(())
    }

    /// Replaces the log with a fresh header and `states` (atomically, durably).
    fn write_all<'a>(
        &self,
        mut states: Vec<(&'a UserId, &'a ThrottleState)>,
    ) -> Result<(), StoreError> {
        states.sort_by(|a, b| a.0.cmp(b.0));
        let mut bytes = Vec::new();
        line_bytes(&mut bytes, &Header::fresh());
        for (user, state) in states {
            line_bytes(&mut bytes, &LineRef { user, state });
        }
        super::replace(&self.path, |w| w.write_all(&bytes))
    }

    /// Reads the whole log, noting every unreadable line instead of stopping at the first.
    pub fn report(&self) -> Result<Option<LogReport>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io("read", source)),
        };
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        let mut report = LogReport {
            states: HashMap::new(),
            damaged: Vec::new(),
            complete_bytes: complete as u64,
            len: bytes.len() as u64,
        };
        if complete == 0 {
            return Ok(Some(report));
        }
        for (number, line) in lines(&bytes[..complete - 1], true) {
            match line {
                Ok(Some(Line { user, state })) => {
                    report.states.insert(user, state);
                }
                Ok(None) => {}
                Err(message) => report.damaged.push((number, message)),
            }
        }
        Ok(Some(report))
    }

    /// Rewrites the log from `states` (repair: the readable lines of a damaged log); the
    /// caller holds the store lock exclusively.
    pub fn rewrite(&self, states: &HashMap<UserId, ThrottleState>) -> Result<(), StoreError> {
        let _log = lock::user(&self.lock_path).map_err(io_error("lock", &self.lock_path))?;
        self.write_all(states.iter().collect())?;
        *self.index() = Index::default();
        Ok(())
    }

    fn io(&self, action: &'static str, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    fn damaged(&self, message: String) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            message,
        }
    }
}

/// A line to write, borrowing its parts.
#[derive(Serialize)]
struct LineRef<'a> {
    user: &'a UserId,
    state: &'a ThrottleState,
}

/// Appends `value` as one JSON line.
fn line_bytes(bytes: &mut Vec<u8>, value: &impl Serialize) {
    serde_json::to_writer(&mut *bytes, value).expect("log lines serialise");
    bytes.push(b'\n');
}

/// The lines of `bytes` (complete lines, without the last newline), numbered from 1, each
/// parsed: `None` for the header, which is the first line when `with_header`.
fn lines(
    bytes: &[u8],
    with_header: bool,
) -> impl Iterator<Item = (usize, Result<Option<Line>, String>)> + '_ {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(move |(i, line)| (i + 1, parse_line(line, with_header && i == 0)))
}

/// A line of the log: `None` for the header (expected only as `first`).
fn parse_line(line: &[u8], first: bool) -> Result<Option<Line>, String> {
    if first {
        return match serde_json::from_slice::<Header>(line) {
            Ok(header) if header.format == FORMAT && header.version <= VERSION => Ok(None),
            Ok(header) if header.format == FORMAT => Err(format!(
                "the log is version {}, this build reads 1–{VERSION}",
                header.version
            )),
            _ => Err(format!("the first line is not a {FORMAT} header")),
        };
    }
    let line: Line = serde_json::from_slice(line).map_err(|e| format!("unreadable line: {e}"))?;
    Ok(Some(line))
}

/// Removes an older build's per-user throttle file, if there is one.
fn remove_legacy(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
            action: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Cuts a last line without its newline (a crashed append's) off the end of `file`, which
/// the caller holds the lock of; returns the length left.
fn cut_torn_tail(file: &mut File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let mut at = len;
    let mut buffer = [0u8; 4096];
    while at > 0 {
        let start = at.saturating_sub(buffer.len() as u64);
        let chunk = &mut buffer[..(at - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(newline) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + newline as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
            }
            return Ok(keep);
        }
        at = start;
    }
    file.set_len(0)?;
    Ok(0)
}

#[cfg(unix)]
fn inode(file: &File) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.ino())
}

#[cfg(not(unix))]
fn inode(_: &File) -> io::Result<u64> {
    // No inode: the header's id tells one file from another.
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn failures(n: u32) -> ThrottleState {
        ThrottleState {
            consecutive_failures: n,
            ..ThrottleState::default()
        }
    }

    fn setup() -> (tempfile::TempDir, ThrottleLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = ThrottleLog::new(dir.path());
        (dir, log)
    }

    /// Writes `bytes` at the end of the log, as another writer (or damage) would.
    fn append_raw(log: &ThrottleLog, bytes: &[u8]) {
        let mut file = OpenOptions::new().append(true).open(log.path()).unwrap();
        file.write_all(bytes).unwrap();
    }

    fn no_legacy(dir: &Path) -> impl Fn(&UserId) -> PathBuf + '_ {
        move |u| dir.join(format!("{u}_throttle.json"))
    }

    #[test]
    fn the_last_line_of_a_user_is_their_state() {
        let (dir, log) = setup();
        let (alice, bob) = (user("alice"), user("bob"));
        assert_eq!(log.state(&alice).unwrap(), None);
        log.append(
            dir.path(),
            &[(alice.clone(), failures(1)), (bob.clone(), failures(2))],
            no_legacy(dir.path()),
        )
        .unwrap();
        log.append(
            dir.path(),
            &[(alice.clone(), failures(3))],
            no_legacy(dir.path()),
        )
        .unwrap();
        assert_eq!(log.state(&alice).unwrap(), Some(failures(3)));
        assert_eq!(log.state(&bob).unwrap(), Some(failures(2)));
        let fresh = ThrottleLog::new(dir.path());
        assert_eq!(
            fresh.state(&alice).unwrap(),
            Some(failures(3)),
            "another process reads it"
        );
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_off_by_the_next_append() {
        let (dir, log) = setup();
        let alice = user("alice");
        log.append(
            dir.path(),
            &[(alice.clone(), failures(1))],
            no_legacy(dir.path()),
        )
        .unwrap();
        let mut file = OpenOptions::new().append(true).open(log.path()).unwrap();
        file.write_all(br#"{"user":"alice","state":{"consecu"#)
            .unwrap();
        assert_eq!(
            ThrottleLog::new(dir.path()).state(&alice).unwrap(),
            Some(failures(1))
        );
        log.append(
            dir.path(),
            &[(user("bob"), failures(2))],
            no_legacy(dir.path()),
        )
        .unwrap();
        let fresh = ThrottleLog::new(dir.path());
        assert_eq!(fresh.state(&alice).unwrap(), Some(failures(1)));
        assert_eq!(fresh.state(&user("bob")).unwrap(), Some(failures(2)));
        assert!(fresh.report().unwrap().unwrap().damaged.is_empty());
    }

    #[test]
    fn a_damaged_line_refuses_every_read_until_rewritten() {
        let (dir, log) = setup();
        log.append(
            dir.path(),
            &[(user("alice"), failures(4))],
            no_legacy(dir.path()),
        )
        .unwrap();
        append_raw(&log, b"{ not json\n");
        let fresh = ThrottleLog::new(dir.path());
        let error = fresh.state(&user("carol")).unwrap_err();
        assert!(error.is_damage(), "{error}");
        let report = fresh.report().unwrap().unwrap();
        assert_eq!(report.damaged.len(), 1);
        fresh.rewrite(&report.states).unwrap();
        assert_eq!(fresh.state(&user("alice")).unwrap(), Some(failures(4)));
    }

    #[test]
    fn a_lockout_time_that_is_not_one_is_damage_not_unlocked() {
        let (dir, log) = setup();
        log.append(
            dir.path(),
            &[(user("alice"), failures(1))],
            no_legacy(dir.path()),
        )
        .unwrap();
        append_raw(
            &log,
            concat!(
                r#"{"user":"alice","state":{"consecutive_failures":0,"lockouts":1,"#,
                r#""locked_until":"soon"}}"#,
                "\n"
            )
            .as_bytes(),
        );
        let error = ThrottleLog::new(dir.path())
            .state(&user("alice"))
            .unwrap_err();
        assert!(error.to_string().contains("\"soon\""), "{error}");
    }

    #[test]
    fn a_long_log_is_compacted_and_other_readers_follow_it() {
        let (dir, log) = setup();
        let reader = ThrottleLog::new(dir.path());
        let len = || fs::metadata(log.path()).unwrap().len();
        let batch = |n: u32| -> Vec<(UserId, ThrottleState)> {
            (0..200)
                .map(|i| (user(&format!("u{i}")), failures(n)))
                .collect()
        };
        log.append(dir.path(), &batch(1), no_legacy(dir.path()))
            .unwrap();
        log.append(
            dir.path(),
            &[(user("gone"), failures(1))],
            no_legacy(dir.path()),
        )
        .unwrap();
        log.append(
            dir.path(),
            &[(user("gone"), failures(0))],
            no_legacy(dir.path()),
        )
        .unwrap();
        assert_eq!(reader.state(&user("u3")).unwrap(), Some(failures(1)));
        let mut round = 1;
        loop {
            round += 1;
            let before = len();
            log.append(dir.path(), &batch(round), no_legacy(dir.path()))
                .unwrap();
            if len() < before {
                break;
            }
            assert!(len() <= COMPACT_BYTES + 64 * 1024, "never compacted");
        }
        let lines = fs::read_to_string(log.path()).unwrap().lines().count();
        assert_eq!(
            lines,
            1 + 200,
            "the header and one line per user with a count"
        );
        log.append(
            dir.path(),
            &[(user("alice"), failures(9))],
            no_legacy(dir.path()),
        )
        .unwrap();
        assert_eq!(reader.state(&user("u3")).unwrap(), Some(failures(round)));
        assert_eq!(reader.state(&user("alice")).unwrap(), Some(failures(9)));
        assert_eq!(
            reader.state(&user("gone")).unwrap(),
            None,
            "all-zero states are dropped"
        );
    }

    #[test]
    fn an_append_supersedes_and_removes_the_old_per_user_file() {
        let (dir, log) = setup();
        let alice = user("alice");
        let legacy = dir.path().join("alice_throttle.json");
        fs::write(&legacy, b"{}").unwrap();
        log.append(
            dir.path(),
            &[(alice.clone(), ThrottleState::default())],
            no_legacy(dir.path()),
        )
        .unwrap();
        assert!(!legacy.exists());
        assert_eq!(log.state(&alice).unwrap(), Some(ThrottleState::default()));
    }

    #[test]
    fn an_erased_user_leaves_no_line() {
        let (dir, log) = setup();
        let (alice, bob) = (user("alice"), user("bob"));
        log.append(
            dir.path(),
            &[(alice.clone(), failures(2)), (bob.clone(), failures(1))],
            no_legacy(dir.path()),
        )
        .unwrap();
        log.erase(dir.path(), &alice, no_legacy(dir.path()))
            .unwrap();
        let text = fs::read_to_string(log.path()).unwrap();
        assert!(!text.contains("alice"), "{text}");
        assert_eq!(log.state(&alice).unwrap(), None);
        assert_eq!(log.state(&bob).unwrap(), Some(failures(1)));
    }
}
