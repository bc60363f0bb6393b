//! Failed-attempt counters, kept in memory so a failed attempt costs no disk flush:
//! a lockout is made durable at once (a restart honours it), any other change is written by
//! [`Lockouts::flush`], which the server calls in the background every few tens of
//! milliseconds — every changed user in one append to the store's throttle log, one fsync. While a state cannot be read or saved — or the store's file system is
//! read-only or full — attempts are refused, never scored. An attempt holds a place in its
//! user's budget from [`Lockouts::begin`] until [`Attempt::finish`], so concurrent attempts
//! cannot together be scored more often than the budget allows.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;

use super::guard::Throttle;
use crate::store::{Store, StoreError, ThrottleState, UserId};

/// Above this many users in memory, a flush forgets those with nothing to remember (they
/// are read again from the store when next seen).
const KEEP_CLEAN_USERS: usize = 10_000;

/// Why an attempt may not be scored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The user is locked out for this many more seconds.
    LockedOut(u64),
    /// As many attempts are in flight as the user has failures left before a lockout.
    Busy,
    /// Throttle state cannot be read or saved (the store is full, read-only or damaged): an
    /// attempt that could not be counted is not scored.
    Unavailable(String),
}

#[derive(Debug, Default)]
struct Entry {
    state: ThrottleState,
    /// Attempts begun and not yet finished.
    in_flight: u32,
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
    /// Held while states are written, so that of two saves the later writes the newer states.
    saving: Mutex<()>,
}

impl Lockouts {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins an attempt of `user` at `now`. When throttling is on, refused while the user is
    /// locked out, while their remaining failures are all taken by attempts in flight, and
    /// while failures cannot be saved.
    pub fn begin<'a>(
        &'a self,
        store: &'a Store,
        user: &UserId,
        throttle: &Throttle,
        now: NaiveDateTime,
    ) -> Result<Attempt<'a>, Blocked> {
        let attempt = || Attempt {
            lockouts: self,
            store,
            user: user.clone(),
            throttle: *throttle,
            finished: false,
        };
        // Throttling off (a demo) means no lockout at all, not even one stored earlier: the
        // stored state is not even read, and nothing is remembered, so switching throttling on
        // again starts from the stored state.
        if throttle.max_failures == 0 {
            return Ok(attempt());
        }
        if let Some(why) = self.failing() {
            return Err(Blocked::Unavailable(why));
        }
        store.writable().map_err(|why| {
            Blocked::Unavailable(format!("failed attempts cannot be saved: {why}"))
        })?;
        self.state(store, user).map_err(|e| {
            log::error!("throttle state of {user}: {e}");
            Blocked::Unavailable("a user's throttle state cannot be read".into())
        })?;
        let latest = store.known_throttle(user);
        let mut book = self.book();
        let entry = book.users.entry(user.clone()).or_default();
        // What another front-end or process wrote since (the store's view of the log) replaces
        // a state with nothing unsaved.
        if let Some(latest) = latest
            && entry.version == entry.saved
        {
            entry.state = latest;
        }
        if let Some(seconds) = Throttle::remaining(&entry.state, now) {
            return Err(Blocked::LockedOut(seconds));
        }
        if entry.state.consecutive_failures + entry.in_flight >= throttle.max_failures {
            return Err(Blocked::Busy);
        }
        entry.in_flight += 1;
        Ok(attempt())
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

    /// Counts a finished attempt's outcome (see [`Attempt::finish`]).
    fn record(
        &self,
        store: &Store,
        user: &UserId,
        throttle: &Throttle,
        success: bool,
        now: NaiveDateTime,
    ) -> Result<Option<Duration>, StoreError> {
        let lockout = {
            let mut book = self.book();
            // Gone: the user was deleted while this attempt was judged.
            let Some(entry) = book.users.get_mut(user) else {
                return Ok(None);
            };
            entry.in_flight = entry.in_flight.saturating_sub(1);
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
            self.flush(store)?;
        }
        Ok(lockout)
    }

    fn release(&self, user: &UserId) {
        if let Some(entry) = self.book().users.get_mut(user) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
    }

    /// Notes a failed save: logged once until saving works again, and answered without the
    /// file's name (which would show another user's id).
    fn failed(&self, error: &StoreError) {
        let cause = match error {
            StoreError::Io { source, .. } => source.to_string(),
            other => other.public_message(),
        };
        let first = self
            .book()
            .failing
            .replace(format!("failed attempts cannot be saved: {cause}"))
            .is_none();
        if first {
            log::error!("cannot save throttle state (attempts are refused until it can): {error}");
        } else {
            log::debug!("cannot save throttle state: {error}");
        }
    }

    /// Writes every changed state, in one append; returns how many were written. On an error
    /// they stay pending, and attempts are refused until a flush succeeds.
    pub fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let pending: Vec<(UserId, ThrottleState, u64)> = {
            let mut book = self.book();
            if book.users.len() > KEEP_CLEAN_USERS {
                book.users
                    .retain(|_, e| e.version != e.saved || e.state != ThrottleState::default());
            }
            book.users
                .iter()
                .filter(|(_, e)| e.version != e.saved)
                .map(|(user, e)| (user.clone(), e.state.clone(), e.version))
                .collect()
        };
        let states: Vec<(UserId, ThrottleState)> = pending
            .iter()
            .map(|(user, state, _)| (user.clone(), state.clone()))
            .collect();
        // With nothing to write this still reads the log: damage, and other processes'
        // changes, are noticed at every flush.
        store
            .save_throttles(&states)
            .inspect_err(|e| self.failed(e))?;
        let mut book = self.book();
        for (user, _, version) in &pending {
            if let Some(entry) = book.users.get_mut(user) {
                entry.saved = entry.saved.max(*version);
            }
        }
        if book.failing.take().is_some() {
            log::warn!("throttle state is saved again; attempts are scored again");
        }
        Ok(pending.len())
    }

    /// Seconds of lockout `user` has left at `now`, from what is in memory (a user not seen
    /// yet is not read from the store).
    pub fn remaining(&self, user: &UserId, now: NaiveDateTime) -> Option<u64> {
        let book = self.book();
        Throttle::remaining(&book.users.get(user)?.state, now)
    }

    /// Why saving fails, if it does.
    pub fn failing(&self) -> Option<String> {
        self.book().failing.clone()
    }

    /// Forgets `user` (deleted); call it under the user's store lock, before the deletion
    /// (which clears their stored state): a flush under way finishes first, so none writes
    /// the forgotten state after the deletion.
    pub fn forget(&self, user: &UserId) {
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        self.book().users.remove(user);
    }
}

/// An attempt in progress, holding a place in its user's failure budget until it is finished
/// (or dropped, when it was never scored).
#[must_use = "an attempt holds a place in the user's budget until finished"]
#[derive(Debug)]
pub struct Attempt<'a> {
    lockouts: &'a Lockouts,
    store: &'a Store,
    user: UserId,
    throttle: Throttle,
    finished: bool,
}

impl Attempt<'_> {
    /// Counts the outcome. A lockout it starts is returned once it is durable; an error means
    /// it could not be saved (and later attempts are refused until a flush succeeds).
    pub fn finish(
        mut self,
        success: bool,
        now: NaiveDateTime,
    ) -> Result<Option<Duration>, StoreError> {
        self.finished = true;
        if self.throttle.max_failures == 0 {
            return Ok(None);
        }
        self.lockouts
            .record(self.store, &self.user, &self.throttle, success, now)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        // An attempt begun with throttling off took no place in the budget.
        if !self.finished && self.throttle.max_failures > 0 {
            self.lockouts.release(&self.user);
        }
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

    /// `n` failed attempts of `user` at `now`; the last one's outcome.
    fn fail(
        lockouts: &Lockouts,
        store: &Store,
        user: &UserId,
        n: u32,
        now: NaiveDateTime,
    ) -> Option<Duration> {
        let mut last = None;
        for _ in 0..n {
            let attempt = lockouts
                .begin(store, user, &Throttle::default(), now)
                .unwrap();
            last = attempt.finish(false, now).unwrap();
        }
        last
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
        assert_eq!(fail(&lockouts, &store, &alice, 3, at(0)), None);
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
        let last = fail(&lockouts, &store, &alice, throttle.max_failures, at(0));
        assert_eq!(last, Some(Duration::from_secs(30)));
        let fresh = Lockouts::default();
        assert_eq!(
            fresh.begin(&store, &alice, &throttle, at(1)).unwrap_err(),
            Blocked::LockedOut(29),
            "a new process reads the lockout"
        );
        assert!(fresh.begin(&store, &alice, &throttle, at(31)).is_ok());
    }

    #[test]
    fn with_throttling_off_a_stored_lockout_is_not_enforced() {
        let (_dir, store, alice) = setup();
        let throttle = Throttle::default();
        let lockouts = Lockouts::default();
        fail(&lockouts, &store, &alice, throttle.max_failures, at(0));
        let off = Throttle {
            max_failures: 0,
            ..throttle
        };
        let demo = Lockouts::default();
        assert!(
            demo.begin(&store, &alice, &off, at(1)).is_ok(),
            "the demo switch"
        );
        assert_eq!(
            demo.begin(&store, &alice, &throttle, at(1)).unwrap_err(),
            Blocked::LockedOut(29),
            "switched on again, the stored lockout holds"
        );
        // The same in another program on the folder, whose store has not read the log: an
        // attempt judged with throttling off leaves nothing behind that hides the lockout.
        let other = Store::open(_dir.path()).unwrap();
        let demo = Lockouts::default();
        let attempt = demo.begin(&other, &alice, &off, at(1)).unwrap();
        assert_eq!(attempt.finish(false, at(1)).unwrap(), None);
        assert_eq!(
            demo.begin(&other, &alice, &throttle, at(1)).unwrap_err(),
            Blocked::LockedOut(29),
            "another program, switched on again"
        );
    }

    #[test]
    fn a_lockout_another_front_end_wrote_replaces_a_saved_count() {
        let (_dir, store, alice) = setup();
        let throttle = Throttle::default();
        let (server, workbench) = (Lockouts::default(), Lockouts::default());
        fail(&server, &store, &alice, 2, at(0));
        server.flush(&store).unwrap();
        // The workbench starts from the stored 2: three more lock alice out.
        fail(&workbench, &store, &alice, 3, at(1));
        assert_eq!(
            server.begin(&store, &alice, &throttle, at(2)).unwrap_err(),
            Blocked::LockedOut(29),
            "the server's own count (2, saved) gives way to the lockout in the store"
        );
    }

    #[test]
    fn a_damaged_log_blocks_users_already_seen_at_the_next_flush() {
        let (_dir, store, alice) = setup();
        let throttle = Throttle::default();
        let lockouts = Lockouts::default();
        fail(&lockouts, &store, &alice, 1, at(0));
        lockouts.flush(&store).unwrap();
        let log = store.dir().join(crate::store::THROTTLE_LOG);
        let mut bytes = std::fs::read(&log).unwrap();
        bytes.extend_from_slice(b"{ not json\n");
        std::fs::write(&log, bytes).unwrap();
        assert!(lockouts.flush(&store).unwrap_err().is_damage());
        assert!(matches!(
            lockouts.begin(&store, &alice, &throttle, at(0)),
            Err(Blocked::Unavailable(_))
        ));
        let with_nothing_to_write = std::fs::metadata(&log).unwrap().len();
        let _ = lockouts.flush(&store);
        assert_eq!(
            std::fs::metadata(&log).unwrap().len(),
            with_nothing_to_write,
            "nothing is appended after a damaged line"
        );
    }

    #[test]
    fn a_success_clears_the_count() {
        let (_dir, store, alice) = setup();
        let lockouts = Lockouts::default();
        let throttle = Throttle::default();
        fail(&lockouts, &store, &alice, 4, at(0));
        lockouts.flush(&store).unwrap();
        let attempt = lockouts.begin(&store, &alice, &throttle, at(0)).unwrap();
        attempt.finish(true, at(0)).unwrap();
        lockouts.flush(&store).unwrap();
        assert_eq!(store.throttle(&alice).unwrap(), ThrottleState::default());
    }

    #[test]
    fn an_unreadable_state_blocks_attempts() {
        let (_dir, store, alice) = setup();
        std::fs::write(store.paths(&alice).throttle, b"{ not json").unwrap();
        let lockouts = Lockouts::default();
        assert!(matches!(
            lockouts.begin(&store, &alice, &Throttle::default(), at(0)),
            Err(Blocked::Unavailable(_))
        ));
    }

    #[test]
    fn a_damaged_throttle_log_blocks_attempts() {
        let (_dir, store, alice) = setup();
        std::fs::write(
            store.dir().join(crate::store::THROTTLE_LOG),
            b"{ not json\n",
        )
        .unwrap();
        let lockouts = Lockouts::default();
        assert!(matches!(
            lockouts.begin(&store, &alice, &Throttle::default(), at(0)),
            Err(Blocked::Unavailable(_))
        ));
    }

    #[test]
    fn attempts_in_flight_take_the_failures_left() {
        let (_dir, store, alice) = setup();
        let lockouts = Lockouts::default();
        let throttle = Throttle::default();
        fail(&lockouts, &store, &alice, 1, at(0));
        let held: Vec<_> = (0..4)
            .map(|_| lockouts.begin(&store, &alice, &throttle, at(0)).unwrap())
            .collect();
        assert_eq!(
            lockouts
                .begin(&store, &alice, &throttle, at(0))
                .unwrap_err(),
            Blocked::Busy,
            "1 failure + 4 in flight = the budget of 5"
        );
        drop(held);
        assert!(
            lockouts.begin(&store, &alice, &throttle, at(0)).is_ok(),
            "attempts dropped unscored give their places back"
        );
    }
}
