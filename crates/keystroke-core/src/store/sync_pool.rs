//! Named threads (`kw-fsync-N`) that fsync a batch's files side by side, so the device sees them
//! at once, without starting threads for every batch: on tmpfs (no I/O cost, so the CPU alone)
//! starting scoped threads per batch held durable /train at 16 connections to about 2,300–2,600
//! a second, and these threads, started once, raised it to about 3,500 (README, "One store, many
//! programs"). The threads start with the first batch of more than one file and end when the
//! pool is dropped.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// Threads syncing at the same time.
const THREADS: usize = 16;

/// One fsync to do, and where to say how it went.
struct Task {
    index: usize,
    file: File,
    reply: Sender<(usize, io::Result<()>)>,
}

/// A lazily started set of fsync threads.
#[derive(Debug, Default)]
pub(super) struct SyncPool {
    threads: Mutex<Threads>,
}

#[derive(Debug, Default)]
enum Threads {
    #[default]
    NotStarted,
    Running(Sender<Task>),
    /// None would start: files are synced in the caller's thread.
    Unavailable,
}

/// Fsyncs each file in turn, in the caller's thread; returns each one's outcome, in order.
pub(super) fn one_by_one(files: &[&File]) -> Vec<io::Result<()>> {
    files.iter().map(|file| file.sync_all()).collect()
}

impl SyncPool {
    /// Fsyncs every file (their data and size), several at a time; returns each one's outcome,
    /// in order.
    pub(super) fn sync_all(&self, files: &[&File]) -> Vec<io::Result<()>> {
        if files.len() <= 1 {
            return one_by_one(files);
        }
        let Some(tasks) = self.sender() else {
            return one_by_one(files);
        };
        let mut results: Vec<Option<io::Result<()>>> = files.iter().map(|_| None).collect();
        let (reply, replies) = mpsc::channel();
        for (index, file) in files.iter().enumerate() {
            let sent = file.try_clone().ok().and_then(|handle| {
                let reply = reply.clone();
                tasks
                    .send(Task {
                        index,
                        file: handle,
                        reply,
                    })
                    .ok()
            });
            // No handle to give (out of descriptors) or no thread to take it: sync it here.
            if sent.is_none() {
                results[index] = Some(file.sync_all());
            }
        }
        drop(reply);
        for (index, outcome) in replies {
            results[index] = Some(outcome);
        }
        results
            .into_iter()
            .zip(files)
            .map(|(result, file)| result.unwrap_or_else(|| file.sync_all()))
            .collect()
    }

    /// The queue of the pool's threads, starting them the first time (`None` if none would
    /// start).
    fn sender(&self) -> Option<Sender<Task>> {
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        if let Threads::NotStarted = *threads {
            let (sender, receiver) = mpsc::channel::<Task>();
            let receiver = Arc::new(Mutex::new(receiver));
            let started = (0..THREADS)
                .filter(|i| {
                    let receiver = Arc::clone(&receiver);
                    thread::Builder::new()
                        .name(format!("kw-fsync-{i}"))
                        .spawn(move || work(&receiver))
                        .map_err(|e| log::warn!("cannot start an fsync thread: {e}"))
                        .is_ok()
                })
                .count();
            *threads = match started {
                0 => Threads::Unavailable,
                _ => Threads::Running(sender),
            };
        }
        match &*threads {
            Threads::Running(sender) => Some(sender.clone()),
            Threads::NotStarted | Threads::Unavailable => None,
        }
    }
}

/// One pool thread: syncs files until the pool is dropped.
fn work(tasks: &Mutex<Receiver<Task>>) {
    loop {
        let task = tasks.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(task) = task else { return };
        // The leader may have given up waiting only by panicking; nothing to tell then.
        let _ = task.reply.send((task.index, task.file.sync_all()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn every_file_gets_its_own_outcome_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<File> = (0..40)
            .map(|i| {
                let mut file = File::create(dir.path().join(format!("f{i}"))).unwrap();
                writeln!(file, "{i}").unwrap();
                file
            })
            .collect();
        let pool = SyncPool::default();
        let refs: Vec<&File> = files.iter().collect();
        for _ in 0..3 {
            let results = pool.sync_all(&refs);
            assert_eq!(results.len(), 40);
            assert!(results.iter().all(Result::is_ok));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failing_file_fails_alone_and_in_its_place() {
        // fsync of a pipe fails (EINVAL) on Linux.
        let dir = tempfile::tempdir().unwrap();
        let ok = File::create(dir.path().join("ok")).unwrap();
        let (reader, _writer) = io::pipe().unwrap();
        let pipe = File::from(std::os::fd::OwnedFd::from(reader));
        let failing = [3, 11, 19];
        let files: Vec<&File> = (0..20)
            .map(|i| if failing.contains(&i) { &pipe } else { &ok })
            .collect();
        let pool = SyncPool::default();
        for _ in 0..3 {
            let failed: Vec<usize> = (pool.sync_all(&files).iter().enumerate())
                .filter(|(_, result)| result.is_err())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(failed, failing);
        }
    }
}
