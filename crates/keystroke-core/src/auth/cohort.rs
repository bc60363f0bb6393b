//! The template update's cohort: the other users of the store enrolled on the same phrase
//! with a trained model, their first [`COHORT_SAMPLES`] samples in use each. An accepted
//! attempt joins a user's template only if their model scores it at or above every cohort
//! sample ([`cohort_guard`], the rule `eval --protocol update` measures). A store whose users
//! each type their own phrase has no cohort, and the percentile guard alone decides.
//!
//! Which users type which phrase comes from one scan of the store's metadata, made at most
//! once a minute (time is passed in) by one thread while the others wait for it; a member's
//! samples are read once per scan, when their phrase is first needed. A user enrolled since
//! the last scan, also by another program, counts within a minute. At most
//! [`MAX_COHORT_USERS`] members count per phrase (the first by user id).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::NaiveDateTime;
use ndarray::{Array2, s};

use crate::detect::{COHORT_SAMPLES, Scorer, cohort_guard};
use crate::store::{Metadata, ModelFile, Store, StoreError, UserId};

/// Seconds a scan of the store is used before the next.
pub const COHORT_REFRESH_SECS: i64 = 60;

/// Members per phrase at most: an attempt is scored against up to this many × 5 samples.
pub const MAX_COHORT_USERS: usize = 200;

/// One member: their id and first samples in use.
type Member = (UserId, Arc<Array2<f64>>);

/// Each phrase's users with a trained model, with their metadata.
type Phrases = HashMap<Vec<String>, Vec<(UserId, Metadata)>>;

/// One scan of the store.
#[derive(Debug)]
struct Index {
    at: NaiveDateTime,
    /// Each phrase's members (with a trained model), sorted, at most [`MAX_COHORT_USERS`].
    phrases: Phrases,
    /// Members' samples, read when their phrase was first needed since the scan.
    rows: HashMap<Vec<String>, Arc<Vec<Member>>>,
}

/// The cohorts of a store, for one verifier.
#[derive(Debug, Default)]
pub struct Cohorts {
    index: Mutex<Option<Index>>,
    /// Held by the one thread scanning the store.
    scanning: Mutex<()>,
}

impl Cohorts {
    /// Whether `user`'s `model` scores the attempt `x` at or above every other member's
    /// samples of its phrase (true when there are none). An error when the store cannot be
    /// listed: the caller then takes nothing (the guard fails closed).
    pub fn admits(
        &self,
        store: &Store,
        user: &UserId,
        model: &ModelFile,
        x: &[f64],
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let members = self.members(store, &model.key_sequence, now)?;
        let others = members
            .iter()
            .filter(|(member, rows)| member != user && rows.ncols() == model.model.n_features())
            .map(|(_, rows)| rows.view());
        let best = cohort_guard(&model.model, others).expect("lengths checked above");
        let admitted = model.model.score(x).is_ok_and(|score| score >= best);
        if !admitted {
            log::debug!("template update of {user} refused: another user's typing is closer");
        }
        Ok(admitted)
    }

    /// The members of `phrase` as of a scan at most [`COHORT_REFRESH_SECS`] old.
    fn members(
        &self,
        store: &Store,
        phrase: &[String],
        now: NaiveDateTime,
    ) -> Result<Arc<Vec<Member>>, StoreError> {
        let fresh =
            |index: &Index| (0..COHORT_REFRESH_SECS).contains(&(now - index.at).num_seconds());
        if !self.lock_index().as_ref().is_some_and(fresh) {
            let _scanning = self.scanning.lock().unwrap_or_else(PoisonError::into_inner);
            // Another thread may have scanned while this one waited.
            if !self.lock_index().as_ref().is_some_and(fresh) {
                let phrases = scan(store)?;
                *self.lock_index() = Some(Index {
                    at: now,
                    phrases,
                    rows: HashMap::new(),
                });
            }
        }
        let wanted = {
            let index = self.lock_index();
            let index = index.as_ref().expect("scanned above");
            if let Some(rows) = index.rows.get(phrase) {
                return Ok(Arc::clone(rows));
            }
            index.phrases.get(phrase).cloned().unwrap_or_default()
        };
        // Read outside the lock; two threads may both read a phrase, one result is kept.
        let members = Arc::new(read_rows(store, wanted));
        if let Some(index) = self.lock_index().as_mut() {
            index.rows.insert(phrase.to_vec(), Arc::clone(&members));
        }
        Ok(members)
    }

    fn lock_index(&self) -> MutexGuard<'_, Option<Index>> {
        // The index is replaced whole: one left by a panicking thread is still sound.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every phrase of the store with its users that have a trained model, by id, at most
/// [`MAX_COHORT_USERS`] each. A user whose metadata cannot be read is left out, with a warning
/// (`store check` reports them); an error when the store cannot be listed.
fn scan(store: &Store) -> Result<Phrases, StoreError> {
    let mut phrases = Phrases::new();
    for user in store.users()? {
        match store.metadata(&user) {
            Ok(Some(metadata)) if metadata.trained_at.is_some() => {
                let members = phrases.entry(metadata.key_sequence.clone()).or_default();
                if members.len() < MAX_COHORT_USERS {
                    members.push((user, metadata));
                }
            }
            Ok(_) | Err(StoreError::Legacy { .. }) => {}
            Err(e) => log::warn!("{user} is left out of the template update's cohort: {e}"),
        }
    }
    Ok(phrases)
}

/// The first samples in use of each of `members`; one whose samples cannot be read is left
/// out, with a warning.
fn read_rows(store: &Store, members: Vec<(UserId, Metadata)>) -> Vec<Member> {
    members
        .into_iter()
        .filter_map(
            |(user, metadata)| match store.active_features(&user, &metadata) {
                Ok(rows) if rows.nrows() > 0 => {
                    let first = rows.nrows().min(COHORT_SAMPLES);
                    Some((user, Arc::new(rows.slice_move(s![..first, ..]))))
                }
                Ok(_) => None,
                Err(e) => {
                    log::warn!("{user} is left out of the template update's cohort: {e}");
                    None
                }
            },
        )
        .collect()
}
