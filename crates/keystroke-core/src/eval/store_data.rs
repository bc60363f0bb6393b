//! The users of a model store as an evaluation data set: every user who typed the same phrase
//! as a given one, each a subject whose impostors are the others; optionally only the samples
//! of one source (`browser`, `global`, `window`, `file`, `api`).

use ndarray::s;
use thiserror::Error;

use super::{Dataset, Protocol, Split, Subject};
use crate::features::feature_names;
use crate::store::{Store, StoreError, UserId};

/// Fewest samples a user needs to take part (train, genuine test, impostor rows).
pub const MIN_STORE_SAMPLES: usize = 4;

/// Why the store's users cannot be evaluated.
#[derive(Debug, Error)]
pub enum StoreDataError {
    /// The user whose phrase was asked for has none.
    #[error("{0} has no samples")]
    NoSamples(UserId),
    /// Fewer than two users typed the phrase often enough.
    #[error(
        "{found} user(s) typed {user}'s phrase with at least {MIN_STORE_SAMPLES} samples \
         (of the source asked for, if any); an evaluation needs 2 or more"
    )]
    TooFewUsers {
        /// The user whose phrase it is.
        user: UserId,
        /// Users found.
        found: usize,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The store's users with `phrase_of`'s phrase and at least [`MIN_STORE_SAMPLES`] samples (of
/// `source` only, when given: [`crate::store::StoredSample::source`]), cut to the same number
/// of rows, with a protocol that trains on the first half of each user's samples, tests the
/// rest as genuine and takes up to 5 first rows of every other user as impostors.
pub fn store_dataset(
    store: &Store,
    phrase_of: &UserId,
    source: Option<&str>,
) -> Result<(Dataset, Protocol), StoreDataError> {
    let phrase = store
        .metadata(phrase_of)?
        .ok_or_else(|| StoreDataError::NoSamples(phrase_of.clone()))?
        .key_sequence;
    let mut subjects = Vec::new();
    for user in store.users()? {
        let Ok(Some(metadata)) = store.metadata(&user) else {
            continue;
        };
        if metadata.key_sequence != phrase || metadata.active_samples() < MIN_STORE_SAMPLES {
            continue;
        }
        // The samples in use (never an excluded one), of `source` only when given.
        let mut keep = metadata.active_indices();
        if let Some(source) = source {
            // Row i of the features is line i of the samples file.
            let samples = store.samples(&user, &metadata)?;
            keep.retain(|&i| samples[i].source() == source);
            if keep.len() < MIN_STORE_SAMPLES {
                continue;
            }
        }
        let samples_ms = store
            .features(&user, &metadata)?
            .select(ndarray::Axis(0), &keep);
        subjects.push(Subject {
            id: user.to_string(),
            sessions: vec![1; samples_ms.nrows()],
            samples_ms,
        });
    }
    if subjects.len() < 2 {
        return Err(StoreDataError::TooFewUsers {
            user: phrase_of.clone(),
            found: subjects.len(),
        });
    }
    let rows = subjects
        .iter()
        .map(|s| s.samples_ms.nrows())
        .min()
        .unwrap_or(0);
    for subject in &mut subjects {
        subject.samples_ms = subject.samples_ms.slice(s![..rows, ..]).to_owned();
        subject.sessions.truncate(rows);
    }
    let train = rows / 2;
    let protocol = Protocol {
        split: Split::Reps {
            train,
            genuine_from: train,
            genuine_to: Some(rows),
        },
        impostor_rows: rows.min(5),
        update: None,
    };
    Ok((
        Dataset {
            feature_names: feature_names(&phrase),
            subjects,
            skipped: Vec::new(),
        },
        protocol,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{CMU, Evaluation};
    use crate::session::SessionFile;
    use chrono::NaiveDate;

    #[test]
    fn users_of_one_phrase_evaluate_against_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cmu = CMU.load().unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        for subject in ["s002", "s003", "s004"] {
            let session = SessionFile::from_cmu(&cmu, subject, 0..12).unwrap();
            let path = dir.path().join(format!("{subject}.session"));
            session.write(&path).unwrap();
            let (_, samples) = SessionFile::read(&path).unwrap();
            let user = UserId::parse(subject).unwrap();
            for sample in &samples[..10 + usize::from(subject == "s003")] {
                store
                    .with_user(&user, |w| w.add_sample(sample, None, now))
                    .unwrap();
            }
        }
        let s002 = UserId::parse("s002").unwrap();
        let (data, protocol) = store_dataset(&store, &s002, None).unwrap();
        assert_eq!(data.subjects.len(), 3);
        assert!(data.subjects.iter().all(|s| s.samples_ms.nrows() == 10));
        assert_eq!(protocol.train_samples(), Some(5));
        let params =
            crate::detect::DetectorKind::of::<crate::detect::ManhattanScaled>().default_params();
        let evaluation = Evaluation::new(&data, protocol, params, &[0]).unwrap();
        let result = evaluation.run_subject(0).unwrap();
        assert!((0.0..=1.0).contains(&result.eer));
    }

    #[test]
    fn only_the_samples_of_the_source_asked_for_are_evaluated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cmu = CMU.load().unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let browser = crate::capture::Capture::of(crate::capture::source::BROWSER);
        for subject in ["s002", "s003"] {
            let session = SessionFile::from_cmu(&cmu, subject, 0..12).unwrap();
            let path = dir.path().join(format!("{subject}.session"));
            session.write(&path).unwrap();
            let (_, samples) = SessionFile::read(&path).unwrap();
            let user = UserId::parse(subject).unwrap();
            for (i, sample) in samples.iter().enumerate() {
                // Even reps from the collection page, odd ones over the API.
                let capture = (i % 2 == 0).then_some(&browser);
                store
                    .with_user(&user, |w| w.add_captured_sample(sample, capture, None, now))
                    .unwrap();
            }
        }
        let s002 = UserId::parse("s002").unwrap();
        let all = store.metadata(&s002).unwrap().unwrap();
        let every_row = store.features(&s002, &all).unwrap();
        for (source, first_row) in [("browser", 0), ("api", 1)] {
            let (data, protocol) = store_dataset(&store, &s002, Some(source)).unwrap();
            assert!(data.subjects.iter().all(|s| s.samples_ms.nrows() == 6));
            assert_eq!(data.subjects[0].samples_ms.row(0), every_row.row(first_row));
            assert_eq!(
                data.subjects[0].samples_ms.row(1),
                every_row.row(first_row + 2)
            );
            assert_eq!(protocol.train_samples(), Some(3));
        }
        let none = store_dataset(&store, &s002, Some("window"));
        assert!(
            matches!(none, Err(StoreDataError::TooFewUsers { found: 0, .. })),
            "{none:?}"
        );
    }
}
