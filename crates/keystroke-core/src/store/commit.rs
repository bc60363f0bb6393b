//! Group commit: concurrent writers share their fsyncs. A writer hands the files it wrote (and
//! the folders whose entries it changed) to [`Committer::sync`] and waits; the first writer to
//! arrive while no batch is being gathered leads: it waits at most `max_wait` for others to
//! join, takes every job queued, fsyncs all their files at once (side by side on the
//! committer's fsync threads, so the file system can fold them into one journal commit), fsyncs
//! each folder once for the whole batch, and wakes the writers of that batch with their own
//! results. Once a batch is taken the next writer may lead the next one, so batches overlap and
//! the device always has work queued. Leading is done by the writers themselves, in turn.
//!
//! A caller is answered only after its own files are durable. Anything that must be durable
//! before a reply (samples, the audit log, throttle state) can go through the same committer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::sync_pool::{self, SyncPool};

/// Default longest a batch leader waits for other writers to join: not at all. A batch is then
/// whoever queued while the previous one was being taken, which adds no latency; measured on a
/// 2-core VM (README, "One store, many programs"), waiting 1 ms made durable /train slower on
/// every file system tried, and no wait was within the noise of each writer syncing alone.
pub const DEFAULT_MAX_WAIT: Duration = Duration::ZERO;

/// Most jobs in one batch (a full batch starts at once).
const MAX_BATCH: usize = 64;

/// Shares fsyncs between the writers of one process.
#[derive(Debug)]
pub struct Committer {
    /// `None`: no batching; every caller syncs its own files, in order (the old way).
    max_wait: Option<Duration>,
    state: Mutex<State>,
    changed: Condvar,
    pool: SyncPool,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<Job>,
    leading: bool,
}

#[derive(Debug)]
struct Job {
    files: Vec<File>,
    dirs: Vec<PathBuf>,
    result: Arc<Mutex<Option<io::Result<()>>>>,
}

impl Committer {
    /// A committer that batches for at most `max_wait`.
    pub fn batching(max_wait: Duration) -> Committer {
        Committer {
            max_wait: Some(max_wait),
            state: Mutex::default(),
            changed: Condvar::new(),
            pool: SyncPool::default(),
        }
    }

    /// A committer that does not batch: each caller fsyncs its own files, then its folders.
    pub fn immediate() -> Committer {
        Committer {
            max_wait: None,
            state: Mutex::default(),
            changed: Condvar::new(),
            pool: SyncPool::default(),
        }
    }

    /// Whether writes are batched.
    pub fn is_batching(&self) -> bool {
        self.max_wait.is_some()
    }

    /// Makes `files` (their data and size) and then the entries of `dirs` durable; returns once
    /// they are. `files` are handles of the caller's (a `try_clone` will do).
    pub fn sync(&self, files: Vec<File>, dirs: Vec<PathBuf>) -> io::Result<()> {
        let Some(max_wait) = self.max_wait else {
            let job = Job {
                files,
                dirs,
                result: Arc::default(),
            };
            return sync_batch(&[job], None).pop().expect("one job, one result");
        };
        let result = Arc::new(Mutex::new(None));
        let mut state = self.lock();
        state.queue.push(Job {
            files,
            dirs,
            result: Arc::clone(&result),
        });
        self.changed.notify_all();
        loop {
            if let Some(done) = lock(&result).take() {
                return done;
            }
            // Lead only while this job is still queued (a batch under way may hold it).
            let queued = state
                .queue
                .iter()
                .any(|job| Arc::ptr_eq(&job.result, &result));
            if state.leading || !queued {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.leading = true;
            let deadline = Instant::now() + max_wait;
            while state.queue.len() < MAX_BATCH {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .changed
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            // The batch is taken: the next writer may lead the next one while this one syncs,
            // so batches overlap and the device always has work queued.
            let batch = std::mem::take(&mut state.queue);
            state.leading = false;
            self.changed.notify_all();
            drop(state);
            for (job, outcome) in batch.iter().zip(sync_batch(&batch, Some(&self.pool))) {
                *lock(&job.result) = Some(outcome);
            }
            state = self.lock();
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An error for another caller (`io::Error` is not `Clone`).
fn copy(error: &io::Error) -> io::Error {
    io::Error::new(error.kind(), error.to_string())
}

/// Fsyncs every file of `batch` (several at a time through `pool`, else one after another),
/// then each distinct folder once; returns each job's outcome (its first failure).
fn sync_batch(batch: &[Job], pool: Option<&SyncPool>) -> Vec<io::Result<()>> {
    // One fsync per file, however many jobs wrote it (the audit log): each job sharing it gets
    // its outcome.
    let mut files: Vec<(Vec<usize>, &File)> = Vec::new();
    let mut index: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for (i, job) in batch.iter().enumerate() {
        for file in &job.files {
            let id = identity(file);
            match id.and_then(|id| index.get(&id).copied()) {
                Some(at) => files[at].0.push(i),
                None => {
                    if let Some(id) = id {
                        index.insert(id, files.len());
                    }
                    files.push((vec![i], file));
                }
            }
        }
    }
    let handles: Vec<&File> = files.iter().map(|(_, file)| *file).collect();
    let outcomes = match pool {
        Some(pool) => pool.sync_all(&handles),
        None => sync_pool::one_by_one(&handles),
    };
    let mut results: Vec<io::Result<()>> = batch.iter().map(|_| Ok(())).collect();
    for ((jobs, _), outcome) in files.iter().zip(outcomes) {
        if let Err(error) = outcome {
            for &i in jobs {
                if results[i].is_ok() {
                    results[i] = Err(copy(&error));
                }
            }
        }
    }
    let dirs: BTreeMap<&PathBuf, io::Result<()>> = batch
        .iter()
        .flat_map(|job| &job.dirs)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|dir| (dir, File::open(dir).and_then(|d| d.sync_all())))
        .collect();
    for (job, result) in batch.iter().zip(&mut results) {
        if result.is_ok()
            && let Some(Err(error)) = job.dirs.iter().map(|d| &dirs[d]).find(|r| r.is_err())
        {
            *result = Err(copy(error));
        }
    }
    results
}

/// The file's device and inode, where the platform says.
fn identity(file: &File) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::thread;

    fn written(dir: &std::path::Path, name: &str) -> File {
        let mut file = File::create(dir.join(name)).unwrap();
        file.write_all(name.as_bytes()).unwrap();
        file
    }

    #[test]
    fn every_concurrent_caller_gets_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::batching(Duration::from_millis(2));
        thread::scope(|scope| {
            for i in 0..16 {
                let (committer, dir) = (&committer, dir.path());
                scope.spawn(move || {
                    let file = written(dir, &format!("f{i}"));
                    committer.sync(vec![file], vec![dir.to_path_buf()]).unwrap();
                });
            }
        });
        assert!(lock(&committer.state).queue.is_empty());
        assert!(!lock(&committer.state).leading);
    }

    #[test]
    fn a_failed_sync_is_reported_to_its_caller_only() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::batching(Duration::from_millis(20));
        let missing = dir.path().join("gone");
        thread::scope(|scope| {
            let other = scope.spawn(|| {
                committer.sync(
                    vec![written(dir.path(), "c")],
                    vec![dir.path().to_path_buf()],
                )
            });
            let err = committer
                .sync(vec![written(dir.path(), "a")], vec![missing])
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            other.join().unwrap().unwrap();
        });
        // The committer carries on.
        committer
            .sync(
                vec![written(dir.path(), "b")],
                vec![dir.path().to_path_buf()],
            )
            .unwrap();
    }

    #[test]
    fn the_immediate_committer_syncs_in_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::immediate();
        assert!(!committer.is_batching());
        committer
            .sync(
                vec![written(dir.path(), "a")],
                vec![dir.path().to_path_buf()],
            )
            .unwrap();
    }
}
