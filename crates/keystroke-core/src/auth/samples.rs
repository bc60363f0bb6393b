//! A user's sample table: each stored sample's mean timings, its consistency with the samples
//! in use and whether it is excluded — what the workbench's Enrol tab and the `samples` command
//! show, from one reading of the store.

use ndarray::ArrayView1;

use super::quality::{MIN_CONSISTENCY, each_consistency};
use crate::features::{FeatureKind, feature_kind};
use crate::store::{LocalTime, Metadata, Store, StoreError, UserId};

/// One stored sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// Its number, from 1, in store order.
    pub number: usize,
    /// When it was stored.
    pub added_at: LocalTime,
    /// How it was captured ([`crate::store::StoredSample::source`]).
    pub source: String,
    /// The enrolment session it was typed in, if the operator named one.
    pub session: Option<String>,
    /// Mean hold, down-down and up-down time, ms.
    pub means_ms: [f64; 3],
    /// Share of its timings typical of the other samples in use (`None` with too few).
    pub consistency: Option<f64>,
    /// Unlike the others (consistency below [`MIN_CONSISTENCY`]).
    pub outlier: bool,
    /// Excluded by the operator: not trained on, counted or exported.
    pub excluded: bool,
}

/// The user's metadata and a row per committed sample, oldest first (`None`: no samples).
pub fn sample_table(
    store: &Store,
    user: &UserId,
) -> Result<Option<(Metadata, Vec<SampleRow>)>, StoreError> {
    let Some(metadata) = store.metadata(user)? else {
        return Ok(None);
    };
    let features = store.features(user, &metadata)?;
    let samples = store.samples(user, &metadata)?;
    let judged = each_consistency(features.view(), &metadata.active_indices());
    let rows = samples
        .iter()
        .zip(features.rows())
        .zip(judged)
        .enumerate()
        .map(|(i, ((sample, row), consistency))| SampleRow {
            number: i + 1,
            added_at: sample.added_at,
            source: sample.source().to_string(),
            session: sample.session.clone(),
            means_ms: timing_means(row),
            consistency,
            outlier: consistency.is_some_and(|c| c < MIN_CONSISTENCY),
            excluded: metadata.is_excluded(i),
        })
        .collect();
    Ok(Some((metadata, rows)))
}

/// Mean hold, down-down and up-down time of a feature vector.
pub fn timing_means(row: ArrayView1<f64>) -> [f64; 3] {
    let mut sums = [0.0; 3];
    let mut counts = [0usize; 3];
    for (i, value) in row.iter().enumerate() {
        let at = match feature_kind(i).0 {
            FeatureKind::Hold => 0,
            FeatureKind::DownDown => 1,
            FeatureKind::UpDown => 2,
        };
        sums[at] += value;
        counts[at] += 1;
    }
    std::array::from_fn(|k| sums[k] / counts[k].max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn means_per_timing_kind() {
        // H1 DD1 UD1 H2
        let row = array![100.0, 300.0, 200.0, 120.0];
        assert_eq!(timing_means(row.view()), [110.0, 300.0, 200.0]);
    }
}
