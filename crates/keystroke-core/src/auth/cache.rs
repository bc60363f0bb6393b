//! Loaded users, kept in memory between requests and bounded in bytes (least recently used
//! evicted first). An entry is reused only while the user's [`CommitStamp`] is unchanged, so a
//! model trained by the GUI in this process, or by another process on the same folder, is used
//! by the next request.

use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

use crate::store::{CommitStamp, Snapshot, Store, StoreError, UserId};

/// Default memory budget of a model cache (the server's and the workbench's).
pub const DEFAULT_MODEL_CACHE_BYTES: usize = 256 << 20;

/// What the store holds for a user.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Nothing.
    Absent,
    /// Files of the old backend: the user must enrol again.
    Legacy,
    /// Our files.
    Enrolled(Arc<Snapshot>),
}

/// A cache of users' metadata and models.
#[derive(Debug)]
pub struct ModelCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    entries: LruCache<UserId, Entry>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    stamp: CommitStamp,
    snapshot: Arc<Snapshot>,
    bytes: usize,
}

impl ModelCache {
    /// A cache that holds at most about `capacity_bytes` of loaded users.
    pub fn new(capacity_bytes: usize) -> ModelCache {
        ModelCache {
            capacity_bytes,
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// The user's current state, from memory when the files are unchanged.
    pub fn get(&self, store: &Store, user: &UserId) -> Result<Lookup, StoreError> {
        let stamp = store.commit_stamp(user)?;
        if !stamp.has_metadata() {
            self.remove(user);
            return Ok(match store.metadata(user) {
                Err(StoreError::Legacy { .. }) => Lookup::Legacy,
                Ok(_) => Lookup::Absent,
                Err(e) => return Err(e),
            });
        }
        if let Some(entry) = self.lock().entries.get(user)
            && entry.stamp == stamp
        {
            return Ok(Lookup::Enrolled(Arc::clone(&entry.snapshot)));
        }
        let snapshot = match store.snapshot(user) {
            Ok(Some(snapshot)) => Arc::new(snapshot),
            Ok(None) => return Ok(Lookup::Absent),
            Err(StoreError::Legacy { .. }) => return Ok(Lookup::Legacy),
            Err(e) => return Err(e),
        };
        self.insert(user, stamp, Arc::clone(&snapshot));
        Ok(Lookup::Enrolled(snapshot))
    }

    /// Entries held and their approximate size in bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }

    fn insert(&self, user: &UserId, stamp: CommitStamp, snapshot: Arc<Snapshot>) {
        let bytes = approximate_bytes(&snapshot);
        let mut inner = self.lock();
        if let Some(old) = inner.entries.put(
            user.clone(),
            Entry {
                stamp,
                snapshot,
                bytes,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.capacity_bytes {
            match inner.entries.pop_lru() {
                Some((_, evicted)) => inner.bytes -= evicted.bytes,
                None => break,
            }
        }
    }

    fn remove(&self, user: &UserId) {
        let mut inner = self.lock();
        if let Some(old) = inner.entries.pop(user) {
            inner.bytes -= old.bytes;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Memory of a loaded user: the model's arrays plus a fixed allowance for the records.
fn approximate_bytes(snapshot: &Snapshot) -> usize {
    const RECORDS: usize = 2048;
    let keys: usize = snapshot
        .metadata
        .key_sequence
        .iter()
        .map(|k| k.len() + 24)
        .sum();
    RECORDS + 2 * keys + snapshot.model.as_ref().map_or(0, |m| m.model.heap_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{KeyAction, KeyEvent, Sample};
    use crate::detect::DetectorParams;
    use chrono::NaiveDate;

    fn sample(hold: f64) -> Sample {
        let mut events = Vec::new();
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            let down = i as f64 * 200.0;
            events.push(KeyEvent::new(*key, KeyAction::Down, down).unwrap());
            events.push(KeyEvent::new(*key, KeyAction::Up, down + hold + i as f64).unwrap());
        }
        Sample::from_events(events).unwrap()
    }

    fn enrol(store: &Store, user: &UserId, n: usize) {
        let now = NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        // A detector that fits on one sample, so that every sample trains.
        let params = DetectorParams::new(crate::detect::TempoTolerant);
        for i in 0..n {
            store
                .with_user(user, |w| {
                    w.add_sample(&sample(80.0 + i as f64), Some(&params), now)
                })
                .unwrap();
        }
    }

    #[test]
    fn reuses_until_a_write_then_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = ModelCache::new(1 << 30);
        let alice = UserId::parse("alice").unwrap();
        assert!(matches!(cache.get(&store, &alice).unwrap(), Lookup::Absent));
        enrol(&store, &alice, 3);
        let Lookup::Enrolled(first) = cache.get(&store, &alice).unwrap() else {
            panic!("enrolled")
        };
        let Lookup::Enrolled(again) = cache.get(&store, &alice).unwrap() else {
            panic!("enrolled")
        };
        assert!(
            Arc::ptr_eq(&first, &again),
            "unchanged files are not reloaded"
        );
        enrol(&store, &alice, 1);
        let Lookup::Enrolled(after) = cache.get(&store, &alice).unwrap() else {
            panic!("enrolled")
        };
        assert_eq!(after.metadata.samples, 4);
        assert_eq!(after.model.as_ref().unwrap().trained_on_samples, 4);
    }

    #[test]
    fn evicts_least_recently_used_past_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let users: Vec<UserId> = (0..3)
            .map(|i| UserId::parse(&format!("u{i}")).unwrap())
            .collect();
        for user in &users {
            enrol(&store, user, 2);
        }
        let one = {
            let cache = ModelCache::new(usize::MAX);
            cache.get(&store, &users[0]).unwrap();
            cache.usage().1
        };
        let cache = ModelCache::new(2 * one);
        for user in &users {
            cache.get(&store, user).unwrap();
        }
        assert_eq!(cache.usage(), (2, 2 * one));
        // u0 was evicted: it loads again (a fresh Arc), evicting u1.
        cache.get(&store, &users[2]).unwrap();
        cache.get(&store, &users[0]).unwrap();
        let held: Vec<_> = cache
            .lock()
            .entries
            .iter()
            .map(|(u, _)| u.clone())
            .collect();
        assert_eq!(held, [users[0].clone(), users[2].clone()]);
    }
}
