//! The login decision: one path from a typed attempt to a verdict, used by every front-end —
//! the server's /predict, the workbench's live test, the CLI's `verify` — so that for the same
//! stored model and attempt they decide the same; and enrolment ([`enrol`]), one path from a
//! typed sample to a stored one for /train and the workbench.
//!
//! [`Verifier::verify`] runs, in order: the user's lockout and failure budget
//! ([`Lockouts`]), their model ([`ModelCache`]), the phrase, replay detection
//! ([`RecentVectors`] and the stored samples), the detector's score, the failure count (a
//! lockout it starts is durable before the verdict returns) and, when configured, template
//! update past the model's update guard and the phrase's other users ([`Cohorts`]). Time is
//! passed in; nothing here reads the clock.

mod cache;
mod cohort;
mod enrol;
mod guard;
mod lockouts;
mod quality;
mod samples;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use thiserror::Error;

use crate::capture::Sample;
use crate::detect::SecurityLevel;
use crate::features::{Features, fingerprint};
use crate::store::{ModelFile, Store, StoreError, UserId};
pub use cache::{DEFAULT_MODEL_CACHE_BYTES, Lookup, ModelCache};
pub use cohort::{COHORT_REFRESH_SECS, Cohorts, MAX_COHORT_USERS};
pub use enrol::{
    DEFAULT_MAX_SAMPLES_PER_USER, DEFAULT_MAX_USERS, DEFAULT_MIN_FREE_BYTES, DEFAULT_MIN_SAMPLES,
    EnrolConfig, EnrolError, Enrolled, enrol,
};
pub use guard::{RECENT_PER_USER, RecentVectors, Throttle};
pub use lockouts::{Attempt, Blocked, Lockouts};
pub use quality::{
    MIN_CONSISTENCY, MIN_OTHERS, QUALITY_WINDOW, Quality, TYPICAL_Z, assess, consistency,
    each_consistency,
};
pub use samples::{SampleRow, sample_table, timing_means};

/// How attempts are judged besides the model itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyConfig {
    /// Lockout after repeated failures (`max_failures: 0` = never).
    pub throttle: Throttle,
    /// Template update: an accepted attempt well above the threshold joins the user's newest
    /// this-many accepted attempts and the model is retrained on them; 0 = off.
    pub template_window: usize,
    /// Which of the model's thresholds judges an attempt.
    pub security: SecurityLevel,
    /// Template update also requires an attempt to score at or above every other user's
    /// samples of the phrase ([`Cohorts`]); on by default.
    pub update_cohort: bool,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            throttle: Throttle::default(),
            template_window: 0,
            security: SecurityLevel::default(),
            update_cohort: true,
        }
    }
}

/// Why an attempt that was judged was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The typed keys differ from the enrolled phrase.
    PhraseMismatch,
    /// The timings repeat a stored sample or a recent attempt exactly.
    Replay,
    /// The detector scored it below its threshold.
    Anomaly,
}

impl Rejection {
    /// The contract's `reason` text (`spec/api.md`, /predict).
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::PhraseMismatch => "Typed text does not match the enrolled phrase",
            Rejection::Replay => "Replayed sample: identical timings were seen before",
            Rejection::Anomaly => "Typing pattern anomaly detected",
        }
    }
}

/// The judgement of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The detector's score (≥ 0 accepts); −1.0 when the attempt was rejected before scoring.
    pub score: f64,
    /// Why it was rejected; `None` when accepted.
    pub rejection: Option<Rejection>,
    /// The lockout this attempt started (already durable), if any.
    pub lockout: Option<Duration>,
    /// Whether the attempt joined the user's template (template update).
    pub updated_template: bool,
    /// The security level whose threshold judged it; `None` for an attempt refused before
    /// scoring and for a model with one threshold at every level (the isolation forest, or an
    /// old model whose levels could not be learnt again).
    pub level: Option<SecurityLevel>,
}

impl Verdict {
    /// Whether the attempt was accepted as the user.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

/// Why an attempt was not judged.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The user is locked out for this many more seconds.
    #[error("too many failed attempts: try again in {0} s")]
    LockedOut(u64),
    /// As many attempts are in flight as the user has failures left.
    #[error("too many attempts at once for this user: try again in 1 s")]
    Busy,
    /// Failed attempts cannot be counted now (the store is full, read-only or its throttle log
    /// damaged): nothing is scored.
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
    /// The user has no trained model; `legacy` when only the old backend's files exist.
    #[error("user '{user}' has no trained model")]
    NotEnrolled {
        /// The user.
        user: UserId,
        /// Enrolled by the old backend: they must enrol again.
        legacy: bool,
    },
    /// The user's files cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored model cannot score this attempt.
    #[error("stored model of '{user}' is unusable: {message}")]
    UnusableModel {
        /// The user.
        user: UserId,
        /// What is wrong.
        message: String,
    },
}

/// Judges attempts against one store.
#[derive(Debug)]
pub struct Verifier {
    store: Arc<Store>,
    config: VerifyConfig,
    models: ModelCache,
    recent: RecentVectors,
    lockouts: Lockouts,
    cohorts: Cohorts,
}

impl Verifier {
    /// A verifier over `store`, loading models through `models`.
    pub fn new(store: Arc<Store>, config: VerifyConfig, models: ModelCache) -> Verifier {
        Verifier {
            store,
            config,
            models,
            recent: RecentVectors::default(),
            lockouts: Lockouts::default(),
            cohorts: Cohorts::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &VerifyConfig {
        &self.config
    }

    /// Judges later attempts with `config`, keeping what was remembered: recent attempts (a
    /// replay stays a replay across a change of level), failure counts and loaded models.
    pub fn set_config(&mut self, config: VerifyConfig) {
        self.config = config;
    }

    /// The model cache (also for readers that only look, like /info).
    pub fn models(&self) -> &ModelCache {
        &self.models
    }

    /// Judges `sample` as an attempt by `user` at `now`.
    pub fn verify(
        &self,
        user: &UserId,
        sample: &Sample,
        now: NaiveDateTime,
    ) -> Result<Verdict, VerifyError> {
        let attempt = self
            .lockouts
            .begin(&self.store, user, &self.config.throttle, now)
            .map_err(|blocked| match blocked {
                Blocked::LockedOut(seconds) => VerifyError::LockedOut(seconds),
                Blocked::Busy => VerifyError::Busy,
                Blocked::Unavailable(why) => VerifyError::Unavailable(why),
            })?;
        let snapshot = match self.models.get(&self.store, user)? {
            Lookup::Enrolled(snapshot) if snapshot.model.is_some() => snapshot,
            lookup => {
                return Err(VerifyError::NotEnrolled {
                    user: user.clone(),
                    legacy: matches!(lookup, Lookup::Legacy),
                });
            }
        };
        let model = snapshot.model.as_ref().expect("checked above");
        let features = Features::of(sample);
        let print = fingerprint(&features.values_ms);
        let replayed =
            self.recent.seen_before(user, print) || snapshot.fingerprints.contains(&print);
        let (score, rejection) = if features.key_sequence != model.key_sequence {
            (-1.0, Some(Rejection::PhraseMismatch))
        } else if replayed {
            (-1.0, Some(Rejection::Replay))
        } else {
            let score = model
                .decision_at(self.config.security, &features.values_ms)
                .map_err(|e| VerifyError::UnusableModel {
                    user: user.clone(),
                    message: e.to_string(),
                })?;
            (score, (score < 0.0).then_some(Rejection::Anomaly))
        };
        let lockout = attempt.finish(rejection.is_none(), now).map_err(|e| {
            VerifyError::Unavailable(format!(
                "the attempt cannot be counted: {}",
                e.public_message()
            ))
        })?;
        let updated_template = rejection.is_none()
            && self.config.template_window > 0
            && model.takes_update(&features.values_ms)
            && (!self.config.update_cohort || self.cohort_admits(user, model, &features, now))
            && self.update_template(user, &features, now);
        Ok(Verdict {
            score,
            rejection,
            lockout,
            updated_template,
            // Only a scored attempt met a threshold (not a mistyped phrase or a replay).
            level: matches!(rejection, None | Some(Rejection::Anomaly))
                .then_some(self.config.security)
                .filter(|_| model.has_levels()),
        })
    }

    /// Whether the attempt scores at or above every other user's samples of the phrase
    /// ([`Cohorts`]); false, logged, when the store cannot be listed.
    fn cohort_admits(
        &self,
        user: &UserId,
        model: &ModelFile,
        features: &Features,
        now: NaiveDateTime,
    ) -> bool {
        self.cohorts
            .admits(&self.store, user, model, &features.values_ms, now)
            .unwrap_or_else(|e| {
                log::warn!("no template update of {user}: its cohort cannot be read: {e}");
                false
            })
    }

    /// Template update with an accepted attempt. A failure is logged, not returned: the
    /// attempt was judged and the caller gets that judgement.
    fn update_template(&self, user: &UserId, features: &Features, now: NaiveDateTime) -> bool {
        let window = self.config.template_window;
        match self
            .store
            .with_user(user, |w| w.add_update(features, window, now))
        {
            Ok(Some(_)) => {
                log::debug!("template of {user} updated");
                true
            }
            Ok(None) => false,
            Err(e) => {
                log::warn!("template update of {user} failed: {e}");
                false
            }
        }
    }

    /// Writes the failure counts changed since the last call (a lockout is written at once);
    /// returns how many users were written. A server calls it in the background, the
    /// workbench after each attempt.
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.lockouts.flush(&self.store)
    }

    /// Seconds `user` stays locked out at `now`, as far as this verifier knows (it has judged
    /// an attempt of theirs); `None` when not locked out.
    pub fn locked_out_for(&self, user: &UserId, now: NaiveDateTime) -> Option<u64> {
        self.lockouts.remaining(user, now)
    }

    /// Why failed attempts cannot be saved now, if they cannot.
    pub fn failing(&self) -> Option<String> {
        self.lockouts.failing()
    }

    /// Forgets what is remembered of `user` (deleted): call it under the user's store lock,
    /// before deleting their files.
    pub fn forget(&self, user: &UserId) {
        self.lockouts.forget(user);
        self.recent.forget(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{DetectorParams, Scorer, cohort_guard};
    use chrono::NaiveDate;

    fn typing(hold: f64) -> Sample {
        enrol::tests::typing(&["a", "b", "c", "d"], hold)
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    /// Stores `user`'s typings with these holds; the default detector trains from the second.
    fn enrol_holds(store: &Store, user: &UserId, holds: &[f64]) {
        for (i, &hold) in holds.iter().enumerate() {
            let train = (i > 0).then(DetectorParams::default);
            store
                .with_user(user, |w| w.add_sample(&typing(hold), train.as_ref(), now()))
                .unwrap();
        }
    }

    #[test]
    fn a_verdict_names_the_level_that_judged_it_and_a_replay_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let alice = UserId::parse("alice").unwrap();
        let now = now();
        enrol_holds(&store, &alice, &[80.0, 86.0, 83.0, 90.0, 78.0, 88.0]);
        let mut verifier = Verifier::new(
            Arc::clone(&store),
            VerifyConfig::default(),
            ModelCache::new(DEFAULT_MODEL_CACHE_BYTES),
        );
        let attempt = typing(84.0);
        let first = verifier.verify(&alice, &attempt, now).unwrap();
        assert_eq!(first.level, Some(SecurityLevel::Balanced));
        verifier.set_config(VerifyConfig {
            security: SecurityLevel::Strict,
            ..VerifyConfig::default()
        });
        let again = verifier.verify(&alice, &attempt, now).unwrap();
        assert_eq!(again.rejection, Some(Rejection::Replay), "remembered");
        assert_eq!(again.level, None, "no threshold judged a replay");
        let other = verifier.verify(&alice, &typing(85.0), now).unwrap();
        assert_eq!(other.level, Some(SecurityLevel::Strict));
    }

    #[test]
    fn the_template_takes_no_attempt_below_another_users_typing_of_the_phrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (alice, bob) = (
            UserId::parse("alice").unwrap(),
            UserId::parse("bob").unwrap(),
        );
        let now = now();
        enrol_holds(&store, &alice, &[80.0, 86.0, 83.0, 90.0, 78.0, 88.0]);
        let verifier = Verifier::new(
            Arc::clone(&store),
            VerifyConfig {
                template_window: 20,
                ..VerifyConfig::default()
            },
            ModelCache::new(DEFAULT_MODEL_CACHE_BYTES),
        );
        // Alone on the phrase: an attempt past the guard is taken.
        let first = verifier.verify(&alice, &typing(85.0), now).unwrap();
        assert!(first.accepted() && first.updated_template, "{first:?}");

        // Bob enrols on the phrase, typing it almost as alice does.
        let bob_holds = [84.0, 84.2, 83.8, 84.1, 83.9];
        enrol_holds(&store, &bob, &bob_holds);
        let bob_rows = store
            .active_features(&bob, &store.metadata(&bob).unwrap().unwrap())
            .unwrap();
        // An attempt of alice's among typings with these holds that the percentile guard alone
        // takes, with bob's typing closer to her model than it is or not.
        let find = |holds: &[f64], closer_than_bob: bool| {
            let model = store.snapshot(&alice).unwrap().unwrap().model.unwrap();
            let best = cohort_guard(&model.model, [bob_rows.view()]).unwrap();
            holds
                .iter()
                .map(|&hold| typing(hold))
                .find(|attempt| {
                    let x = Features::of(attempt).values_ms;
                    model.takes_update(&x)
                        && (model.model.score(&x).unwrap() >= best) == closer_than_bob
                })
                .expect("such an attempt")
        };
        // Grids shifted apart: no attempt repeats an earlier one (a replay).
        let grid = |offset: f64| {
            (0..80)
                .map(|i| 82.0 + 0.1 * f64::from(i) + offset)
                .collect::<Vec<_>>()
        };
        // Within the minute the cohort read before bob enrolled stands; then he is in it.
        let within = verifier
            .verify(&alice, &find(&grid(0.0), false), now)
            .unwrap();
        assert!(within.updated_template, "{within:?}");
        let later = now + chrono::Duration::seconds(COHORT_REFRESH_SECS);
        let refused = verifier
            .verify(&alice, &find(&grid(0.03), false), later)
            .unwrap();
        assert!(
            refused.accepted() && !refused.updated_template,
            "{refused:?}"
        );
        // An attempt as close as bob's closest typing is taken.
        let closest = verifier
            .verify(&alice, &find(&bob_holds, true), later)
            .unwrap();
        assert!(closest.updated_template, "{closest:?}");
    }
}
