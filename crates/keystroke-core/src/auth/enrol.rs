//! Enrolment: one path from a typed sample to a stored one, used by the server's /train and the
//! workbench's Accept — the free-space reserve, the user and sample quotas, duplicate refusal,
//! the phrase, and training once the user has enough samples, all under the user's lock.

use chrono::NaiveDateTime;
use thiserror::Error;

use super::quality::{Quality, assess};
use crate::capture::{Capture, Sample};
use crate::detect::DetectorParams;
use crate::features::Features;
use crate::store::{Store, StoreError, UserId};

/// Default minimum number of samples before a user's model is trained.
pub const DEFAULT_MIN_SAMPLES: usize = 5;

/// Default most samples one user may store (`KW_MAX_SAMPLES_PER_USER`).
pub const DEFAULT_MAX_SAMPLES_PER_USER: usize = 1_000;

/// Default most users the store may hold (`KW_MAX_USERS`).
pub const DEFAULT_MAX_USERS: usize = 100_000;

/// Default free space kept on the store's file system (`KW_MIN_FREE_MB`, 64 MiB).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// What enrolment allows and does.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolConfig {
    /// Samples a user needs before their model is trained (≥ 1).
    pub min_samples: usize,
    /// The detector fitted once the user has `min_samples`; `None` only stores the sample
    /// (the workbench trains when asked).
    pub detector: Option<DetectorParams>,
    /// Most samples a user may store.
    pub max_samples_per_user: usize,
    /// Most users the store may hold. Counted when a new user's first sample arrives, so first
    /// samples arriving at the same moment from several writers may pass it by as many.
    pub max_users: usize,
    /// Free space (bytes) enrolment leaves on the store's file system.
    pub min_free_bytes: u64,
}

impl Default for EnrolConfig {
    fn default() -> Self {
        EnrolConfig {
            min_samples: DEFAULT_MIN_SAMPLES,
            detector: Some(DetectorParams::default()),
            max_samples_per_user: DEFAULT_MAX_SAMPLES_PER_USER,
            max_users: DEFAULT_MAX_USERS,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

/// A stored sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The user's samples in use now (excluded samples are not counted).
    pub samples: usize,
    /// The new sample's number in the store (from 1; excluded samples are counted).
    pub number: usize,
    /// Whether the model was (re)trained with it.
    pub trained: bool,
    /// Its consistency with the user's other samples, and the enrolment's ([`assess`]); `None`
    /// while the user has fewer than 3 samples.
    pub quality: Option<Quality>,
}

/// Why a sample was not stored. Nothing was written.
#[derive(Debug, Error)]
pub enum EnrolError {
    /// The store's file system is below the free-space reserve.
    #[error("low on disk space ({} MiB free, {} MiB kept free): the sample was not stored", .free >> 20, .reserve >> 20)]
    LowSpace {
        /// Bytes free.
        free: u64,
        /// Bytes kept free.
        reserve: u64,
    },
    /// A new user, and the store holds the most users allowed.
    #[error("the store holds the most users allowed ({max}): user '{user}' cannot enrol")]
    TooManyUsers {
        /// The user.
        user: UserId,
        /// The limit.
        max: usize,
    },
    /// The user has the most samples allowed.
    #[error("user '{user}' has the most samples allowed ({max}): the sample was not stored")]
    TooManySamples {
        /// The user.
        user: UserId,
        /// The limit.
        max: usize,
    },
    /// The sample's timings repeat a stored sample exactly.
    #[error("duplicate sample: its timings are identical to stored sample {}", .row + 1)]
    Duplicate {
        /// The stored row it repeats (0-based).
        row: usize,
    },
    /// The store refused (also [`StoreError::PhraseMismatch`]: another phrase than enrolled).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `sample` as `user`'s, captured by `capture` (`None` for the API), at `now`; trains the
/// user's model when `config` says so.
pub fn enrol(
    store: &Store,
    config: &EnrolConfig,
    user: &UserId,
    sample: &Sample,
    capture: Option<&Capture>,
    now: NaiveDateTime,
) -> Result<Enrolled, EnrolError> {
    if let Some(free) = store.available_bytes()?
        && free < config.min_free_bytes
    {
        return Err(EnrolError::LowSpace {
            free,
            reserve: config.min_free_bytes,
        });
    }
    if !store.paths(user).metadata.exists() && store.users()?.len() >= config.max_users {
        return Err(EnrolError::TooManyUsers {
            user: user.clone(),
            max: config.max_users,
        });
    }
    store.with_user(user, |writer| {
        let features = Features::of(sample);
        // Excluded samples are still stored: a replay of one is refused too.
        let previous = writer.phrase_rows(&features.key_sequence)?;
        let duplicate = previous.as_ref().and_then(|rows| {
            rows.rows()
                .into_iter()
                .position(|row| row.iter().eq(features.values_ms.iter()))
        });
        if let Some(row) = duplicate {
            return Err(EnrolError::Duplicate { row });
        }
        let metadata = match writer.metadata() {
            Ok(metadata) => metadata,
            Err(StoreError::Legacy { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        // The quota is on what the files hold, the training goal on the samples in use.
        let (stored, active) = metadata
            .as_ref()
            .map_or((0, 0), |m| (m.samples, m.active_samples()));
        if stored >= config.max_samples_per_user {
            return Err(EnrolError::TooManySamples {
                user: user.clone(),
                max: config.max_samples_per_user,
            });
        }
        let train = config
            .detector
            .as_ref()
            .filter(|_| active + 1 >= config.min_samples);
        // The samples in use, the new one last, and their numbers in the store.
        let in_use = previous.zip(metadata).map(|(rows, metadata)| {
            let mut indices = metadata.active_indices();
            let mut rows = rows.select(ndarray::Axis(0), &indices);
            rows.push_row(ndarray::ArrayView1::from(&features.values_ms))
                .expect("the phrase fixes the feature length");
            indices.push(metadata.samples);
            (rows, indices)
        });
        let metadata = writer.add_captured_sample(sample, capture, train, now)?;
        let quality = in_use.and_then(|(rows, indices)| {
            let mut quality = assess(rows.view())?;
            for number in &mut quality.inconsistent_samples {
                *number = indices[*number - 1] + 1;
            }
            Some(quality)
        });
        Ok(Enrolled {
            samples: metadata.active_samples(),
            number: metadata.samples,
            trained: train.is_some(),
            quality,
        })
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::capture::{KeyAction, KeyEvent};
    use crate::detect::{DetectorParams, ManhattanScaled};
    use chrono::NaiveDate;

    /// A typing of `keys`, 200 ms apart, each held `hold` ms (and 1 ms longer per key).
    pub(in crate::auth) fn typing(keys: &[&str], hold: f64) -> Sample {
        let mut events = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let down = i as f64 * 200.0;
            events.push(KeyEvent::new(*key, KeyAction::Down, down).unwrap());
            events.push(KeyEvent::new(*key, KeyAction::Up, down + hold + i as f64).unwrap());
        }
        Sample::from_events(events).unwrap()
    }

    #[test]
    fn stores_trains_at_the_goal_and_refuses_what_breaks_a_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let config = EnrolConfig {
            min_samples: 2,
            detector: Some(DetectorParams::new(ManhattanScaled)),
            max_samples_per_user: 3,
            max_users: 1,
            min_free_bytes: 0,
        };
        let alice = UserId::parse("alice").unwrap();
        let abc = ["a", "b", "c"];
        let first = enrol(&store, &config, &alice, &typing(&abc, 90.0), None, now).unwrap();
        assert_eq!((first.samples, first.trained), (1, false));
        let second = enrol(&store, &config, &alice, &typing(&abc, 95.0), None, now).unwrap();
        assert_eq!((second.samples, second.trained), (2, true));
        let again = enrol(&store, &config, &alice, &typing(&abc, 95.0), None, now);
        assert!(
            matches!(again, Err(EnrolError::Duplicate { row: 1 })),
            "{again:?}"
        );
        let other_phrase = enrol(
            &store,
            &config,
            &alice,
            &typing(&["x", "y"], 90.0),
            None,
            now,
        );
        assert!(
            matches!(
                other_phrase,
                Err(EnrolError::Store(StoreError::PhraseMismatch { .. }))
            ),
            "{other_phrase:?}"
        );
        enrol(
            &store,
            &config,
            &alice,
            &typing(&abc, 99.0),
            Some(&Capture::of(crate::capture::source::WINDOW)),
            now,
        )
        .unwrap();
        let full = enrol(&store, &config, &alice, &typing(&abc, 80.0), None, now);
        assert!(
            matches!(full, Err(EnrolError::TooManySamples { max: 3, .. })),
            "{full:?}"
        );
        let bob = UserId::parse("bob").unwrap();
        let newcomer = enrol(&store, &config, &bob, &typing(&abc, 90.0), None, now);
        assert!(
            matches!(newcomer, Err(EnrolError::TooManyUsers { max: 1, .. })),
            "{newcomer:?}"
        );
        let reserve = EnrolConfig {
            min_free_bytes: u64::MAX,
            ..config
        };
        let low = enrol(&store, &reserve, &alice, &typing(&abc, 70.0), None, now);
        assert!(matches!(low, Err(EnrolError::LowSpace { .. })), "{low:?}");
        // Nothing refused was written.
        let metadata = store.metadata(&alice).unwrap().unwrap();
        assert_eq!(metadata.samples, 3);
        assert!(store.metadata(&bob).unwrap().is_none());
    }

    /// With a sample excluded, counts are of the samples in use, the new sample's number is
    /// its place in the store, and a flagged sample is named by that number.
    #[test]
    fn an_excluded_sample_is_not_counted_and_flags_use_store_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let config = EnrolConfig {
            min_samples: 100,
            detector: None,
            ..EnrolConfig::default()
        };
        let alice = UserId::parse("alice").unwrap();
        let keys = ["a", "b", "c"];
        for hold in [100.0, 101.0, 102.0, 103.0] {
            enrol(&store, &config, &alice, &typing(&keys, hold), None, now).unwrap();
        }
        store
            .with_user(&alice, |w| w.set_excluded(1, true, None, 100, now))
            .unwrap();
        let odd = enrol(&store, &config, &alice, &typing(&keys, 300.0), None, now).unwrap();
        assert_eq!((odd.samples, odd.number), (4, 5));
        let quality = odd.quality.unwrap();
        assert!(!quality.consistent);
        assert_eq!(quality.inconsistent_samples, [5]);
    }
}
