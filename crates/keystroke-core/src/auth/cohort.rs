//! The template update's cohort: the other users of the store enrolled on the same phrase,
//! their first [`COHORT_SAMPLES`] samples in use each. An accepted attempt joins a user's
//! template only if their model scores it at or above every cohort sample
//! ([`cohort_guard`], the rule `eval --protocol update` measures). A store whose users each
//! type their own phrase has no cohort, and the percentile guard alone decides.
//!
//! The members are read from the store at most once a minute per phrase (time is passed in),
//! so a user enrolled since then joins the cohort within a minute, also from another process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use ndarray::{Array2, s};

use crate::detect::{COHORT_SAMPLES, Scorer, cohort_guard};
use crate::store::{ModelFile, Store, StoreError, UserId};

/// Seconds a phrase's members are used before they are read again.
pub const COHORT_REFRESH_SECS: i64 = 60;

/// One phrase's members: each user's first samples in use.
type Members = Arc<Vec<(UserId, Array2<f64>)>>;

/// The cohorts of the phrases a verifier has seen, read from the store when stale.
#[derive(Debug, Default)]
pub struct Cohorts {
    by_phrase: Mutex<HashMap<Vec<String>, (NaiveDateTime, Members)>>,
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
        Ok(model.model.score(x).is_ok_and(|score| score >= best))
    }

    /// The members of `phrase`, read again when older than [`COHORT_REFRESH_SECS`].
    fn members(
        &self,
        store: &Store,
        phrase: &[String],
        now: NaiveDateTime,
    ) -> Result<Members, StoreError> {
        let fresh = |at: &NaiveDateTime| {
            let age = (now - *at).num_seconds();
            (0..COHORT_REFRESH_SECS).contains(&age)
        };
        if let Some((at, members)) = self.lock().get(phrase)
            && fresh(at)
        {
            return Ok(Arc::clone(members));
        }
        let members = Arc::new(read_members(store, phrase)?);
        self.lock()
            .insert(phrase.to_vec(), (now, Arc::clone(&members)));
        Ok(members)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, (NaiveDateTime, Members)>> {
        // The map holds whole entries only: one left by a panicking thread is still sound.
        self.by_phrase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every user of the store enrolled on `phrase`, with their first samples in use. A user
/// whose files cannot be read is left out, with a warning (`store check` reports them).
fn read_members(
    store: &Store,
    phrase: &[String],
) -> Result<Vec<(UserId, Array2<f64>)>, StoreError> {
    let mut members = Vec::new();
    for user in store.users()? {
        let rows = store.metadata(&user).and_then(|metadata| match metadata {
            Some(m) if m.key_sequence == phrase => store.active_features(&user, &m).map(Some),
            _ => Ok(None),
        });
        match rows {
            Ok(Some(rows)) if rows.nrows() > 0 => {
                let first = rows.nrows().min(COHORT_SAMPLES);
                members.push((user, rows.slice_move(s![..first, ..])));
            }
            Ok(_) | Err(StoreError::Legacy { .. }) => {}
            Err(e) => log::warn!("{user} is left out of the template update's cohort: {e}"),
        }
    }
    Ok(members)
}
