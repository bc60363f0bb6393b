//! Defences of /predict: throttling after repeated failures (NIST SP 800-63B-4 style, counters
//! kept in the store) and the recently seen feature vectors a replay would repeat.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;
use lru::LruCache;

use crate::store::{ThrottleState, UserId};

/// Vectors remembered per user for replay detection.
pub const RECENT_PER_USER: usize = 64;

/// Users whose recent vectors are remembered (least recently used forgotten first).
pub const RECENT_USERS: usize = 10_000;

/// Throttling settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Consecutive failures that lock a user out (0 = never).
    pub max_failures: u32,
    /// First lockout; each further one (before a success) doubles it.
    pub lockout: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            max_failures: 5,
            lockout: Duration::from_secs(30),
        }
    }
}

impl Throttle {
    /// Seconds of lockout left at `now`, if the user is locked out.
    pub fn remaining(state: &ThrottleState, now: NaiveDateTime) -> Option<u64> {
        let until = state.locked_until?.time();
        let left = (until - now).num_milliseconds();
        (left > 0).then(|| (left as u64).div_ceil(1000))
    }

    /// The state after a failed attempt at `now`, and the lockout it starts, if any.
    pub fn fail(
        &self,
        mut state: ThrottleState,
        now: NaiveDateTime,
    ) -> (ThrottleState, Option<Duration>) {
        state.consecutive_failures += 1;
        if self.max_failures == 0 || state.consecutive_failures < self.max_failures {
            return (state, None);
        }
        state.consecutive_failures = 0;
        state.lockouts += 1;
        let factor = 1u32 << (state.lockouts - 1).min(16);
        let lockout = self.lockout.saturating_mul(factor);
        let until = now + chrono::Duration::from_std(lockout).unwrap_or(chrono::Duration::MAX);
        state.locked_until = Some(until.into());
        (state, Some(lockout))
    }
}

/// Feature vectors recently sent to /predict, per user.
#[derive(Debug)]
pub struct RecentVectors {
    users: Mutex<LruCache<UserId, VecDeque<u64>>>,
}

impl Default for RecentVectors {
    fn default() -> Self {
        RecentVectors {
            users: Mutex::new(LruCache::new(
                NonZeroUsize::new(RECENT_USERS).expect("non-zero"),
            )),
        }
    }
}

impl RecentVectors {
    /// Records `fingerprint` for `user`; true if it was already among the recent ones.
    pub fn seen_before(&self, user: &UserId, fingerprint: u64) -> bool {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let recent = users.get_or_insert_mut(user.clone(), VecDeque::new);
        if recent.contains(&fingerprint) {
            return true;
        }
        if recent.len() == RECENT_PER_USER {
            recent.pop_front();
        }
        recent.push_back(fingerprint);
        false
    }

    /// Forgets a user (deleted).
    pub fn forget(&self, user: &UserId) {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(seconds: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            + chrono::Duration::seconds(i64::from(seconds))
    }

    #[test]
    fn locks_after_max_failures_and_doubles() {
        let throttle = Throttle::default();
        let mut state = ThrottleState::default();
        for _ in 0..4 {
            let (next, lockout) = throttle.fail(state, at(0));
            assert_eq!(lockout, None);
            state = next;
        }
        let (state, lockout) = throttle.fail(state, at(0));
        assert_eq!(lockout, Some(Duration::from_secs(30)));
        assert_eq!(Throttle::remaining(&state, at(0)), Some(30));
        assert_eq!(Throttle::remaining(&state, at(29)), Some(1));
        assert_eq!(Throttle::remaining(&state, at(30)), None);
        let mut state = state;
        for _ in 0..4 {
            state = throttle.fail(state, at(40)).0;
        }
        let (state, lockout) = throttle.fail(state, at(40));
        assert_eq!(lockout, Some(Duration::from_secs(60)), "doubled");
        assert_eq!(Throttle::remaining(&state, at(40)), Some(60));
    }

    #[test]
    fn remembers_recent_vectors_per_user() {
        let recent = RecentVectors::default();
        let alice = UserId::parse("alice").unwrap();
        let bob = UserId::parse("bob").unwrap();
        assert!(!recent.seen_before(&alice, 7));
        assert!(recent.seen_before(&alice, 7));
        assert!(!recent.seen_before(&bob, 7));
        for i in 0..RECENT_PER_USER as u64 {
            recent.seen_before(&alice, 100 + i);
        }
        assert!(!recent.seen_before(&alice, 7), "the oldest is forgotten");
    }
}
