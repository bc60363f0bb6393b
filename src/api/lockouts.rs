//! Failed-attempt counters of /predict, kept in memory so a failed attempt costs no disk flush:
//! a lockout is made durable at once (a restart honours it), any other change is written by
//! [`Lockouts::flush`], which the server calls in the background every few tens of
//! milliseconds. While a state cannot be read or saved, attempts are refused, never scored.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;

use super::guard::Throttle;
use crate::store::{Store, StoreError, ThrottleState, UserId};

/// Above this many users in memory, a flush forgets those with nothing to remember (they
/// are read again from the store, where they have no file, when next seen).
const KEEP_CLEAN_USERS: usize = 10_000;

/// Why an attempt may not be scored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The user is locked out for this many more seconds.
    LockedOut(u64),
    /// Throttle state cannot be read or saved (the store is full, read-only or damaged): an
    /// attempt that could not be counted is not scored.
    Unavailable(String),
}

#[derive(Debug, Default)]
struct Entry {
    state: ThrottleState,
    /// Bumped by every change.
    version: u64,
    /// The version last written to the store.
    saved: u64,
}

#[derive(Debug, Default)]
struct Book {
    users: HashMap<UserId, Entry>,
    /// Why the last save failed, until a flush succeeds.
    failing: Option<String>,
}

/// Every user's failed-attempt state, in memory over the store.
#[derive(Debug, Default)]
pub struct Lockouts {
    book: Mutex<Book>,
}

impl Lockouts {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `user` may make an attempt at `now`.
    pub fn check(&self, store: &Store, user: &UserId, now: NaiveDateTime) -> Result<(), Blocked> {
        if let Some(why) = self.book().failing.clone() {
            return Err(Blocked::Unavailable(why));
        }
        let state = self.state(store, user).map_err(|e| {
            log::error!("throttle state of {user}: {e}");
            Blocked::Unavailable(format!("the throttle state of '{user}' cannot be read"))
        })?;
        match Throttle::remaining(&state, now) {
            Some(seconds) => Err(Blocked::LockedOut(seconds)),
            None => Ok(()),
        }
    }

    /// The user's state, read from the store the first time.
    fn state(&self, store: &Store, user: &UserId) -> Result<ThrottleState, StoreError> {
        if let Some(entry) = self.book().users.get(user) {
            return Ok(entry.state.clone());
        }
        let stored = store.throttle(user)?;
        let mut book = self.book();
        let entry = book.users.entry(user.clone()).or_insert_with(|| Entry {
            state: stored,
            ..Entry::default()
        });
        Ok(entry.state.clone())
    }

    /// Counts an attempt's outcome. A lockout it starts is returned once it is durable; an
    /// error means it could not be saved (and later attempts are refused until a flush
    /// succeeds).
    pub fn record(
        &self,
        store: &Store,
        user: &UserId,
        throttle: &Throttle,
        success: bool,
        now: NaiveDateTime,
    ) -> Result<Option<Duration>, StoreError> {
        self.state(store, user)?;
        let lockout = {
            let mut book = self.book();
            let entry = book.users.entry(user.clone()).or_default();
            let (next, lockout) = if success {
                (ThrottleState::default(), None)
            } else {
                throttle.fail(entry.state.clone(), now)
            };
            if next == entry.state {
                return Ok(None);
            }
            entry.state = next;
            entry.version += 1;
            lockout
        };
        if lockout.is_some() {
            self.save(store, user).inspect_err(|e| self.failed(e))?;
        }
        Ok(lockout)
    }

    /// Writes `user`'s newest state, under the user's store lock, so that of two writers the
    /// last always writes the newest.
    fn save(&self, store: &Store, user: &UserId) -> Result<(), StoreError> {
        store.with_user(user, |writer| {
            let Some((state, version)) = self
                .book()
                .users
                .get(user)
                .map(|e| (e.state.clone(), e.version))
            else {
                return Ok(());
            };
            writer.set_throttle(&state)?;
            if let Some(entry) = self.book().users.get_mut(user) {
                entry.saved = entry.saved.max(version);
            }
            Ok(())
        })
    }

    fn failed(&self, error: &StoreError) {
        log::error!("cannot save throttle state: {error}");
        self.book().failing = Some(format!(
            "failed attempts cannot be saved: {}",
            error.public_message()
        ));
    }

    /// Writes every changed state; returns how many were written. On an error the rest stay
    /// pending, and attempts are refused until a flush succeeds.
    pub fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let pending: Vec<UserId> = {
            let mut book = self.book();
            if book.users.len() > KEEP_CLEAN_USERS {
                book.users
                    .retain(|_, e| e.version != e.saved || e.state != ThrottleState::default());
            }
            book.users
                .iter()
                .filter(|(_, e)| e.version != e.saved)
                .map(|(user, _)| user.clone())
                .collect()
        };
        for user in &pending {
            self.save(store, user).inspect_err(|e| self.failed(e))?;
        }
        self.book().failing = None;
        Ok(pending.len())
    }

    /// Why saving fails, if it does.
    pub fn failing(&self) -> Option<String> {
        self.book().failing.clone()
    }

    /// Forgets `user` (deleted); call it under the user's store lock, with the deletion.
    pub fn forget(&self, user: &UserId) {
        self.book().users.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(seconds: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            + chrono::Duration::seconds(seconds)
    }

    fn setup() -> (tempfile::TempDir, Store, UserId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store, UserId::parse("alice").unwrap())
    }

    #[test]
    fn failures_below_the_limit_reach_the_store_only_when_flushed() {
        let (_dir, store, alice) = setup();
        let lockouts = Lockouts::default();
        let throttle = Throttle::default();
        for _ in 0..3 {
            let lockout = lockouts.record(&store, &alice, &throttle, false, at(0));
            assert_eq!(lockout.unwrap(), None);
        }
        assert_eq!(store.throttle(&alice).unwrap(), ThrottleState::default());
        assert_eq!(lockouts.flush(&store).unwrap(), 1);
        assert_eq!(store.throttle(&alice).unwrap().consecutive_failures, 3);
        assert_eq!(lockouts.flush(&store).unwrap(), 0, "nothing left to write");
    }

    #[test]
    fn a_lockout_is_durable_before_it_is_reported() {
        let (_dir, store, alice) = setup();
        let lockouts = Lockouts::default();
        let throttle = Throttle::default();
        let mut last = None;
        for _ in 0..throttle.max_failures {
            last = lockouts
                .record(&store, &alice, &throttle, false, at(0))
                .unwrap();
        }
        assert_eq!(last, Some(Duration::from_secs(30)));
        let fresh = Lockouts::default();
        assert_eq!(
            fresh.check(&store, &alice, at(1)),
            Err(Blocked::LockedOut(29)),
            "a new process reads the lockout"
        );
        assert_eq!(fresh.check(&store, &alice, at(31)), Ok(()));
    }

    #[test]
    fn a_success_clears_the_count() {
        let (_dir, store, alice) = setup();
        let lockouts = Lockouts::default();
        let throttle = Throttle::default();
        for _ in 0..4 {
            lockouts
                .record(&store, &alice, &throttle, false, at(0))
                .unwrap();
        }
        lockouts.flush(&store).unwrap();
        lockouts
            .record(&store, &alice, &throttle, true, at(0))
            .unwrap();
        lockouts.flush(&store).unwrap();
        assert_eq!(store.throttle(&alice).unwrap(), ThrottleState::default());
    }

    #[test]
    fn an_unreadable_state_blocks_attempts() {
        let (_dir, store, alice) = setup();
        std::fs::write(store.paths(&alice).throttle, b"{ not json").unwrap();
        let lockouts = Lockouts::default();
        assert!(matches!(
            lockouts.check(&store, &alice, at(0)),
            Err(Blocked::Unavailable(_))
        ));
    }
}
