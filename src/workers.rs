//! Spreading independent jobs over named worker threads (for front-ends: the core has no
//! threads of its own).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Runs `job(0..n)` on up to `threads` scoped threads named `{name}-{k}` and returns the
/// results in job order. A panicking job panics the caller.
pub fn parallel_map<T: Send>(
    n: usize,
    threads: usize,
    name: &str,
    job: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, n.max(1));
    let mut results: Vec<(usize, T)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (next, job) = (&next, &job);
                thread::Builder::new()
                    .name(format!("{name}-{k}"))
                    .spawn_scoped(scope, move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                return done;
                            }
                            done.push((i, job(i)));
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

/// Threads to use by default: the machine's parallelism.
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_results_in_job_order() {
        let squares = parallel_map(100, 4, "test", |i| i * i);
        assert_eq!(squares, (0..100).map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn runs_on_named_threads() {
        let names = parallel_map(3, 2, "named", |_| {
            thread::current().name().unwrap().to_string()
        });
        assert!(names.iter().all(|n| n.starts_with("named-")), "{names:?}");
    }

    #[test]
    fn handles_zero_jobs() {
        assert!(parallel_map(0, 2, "none", |i| i).is_empty());
    }
}
