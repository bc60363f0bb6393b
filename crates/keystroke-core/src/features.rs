//! Timing features of a sample, in milliseconds, interleaved per key as the CMU benchmark does:
//! `H_1, DD_1, UD_1, H_2, …, H_n` (length `3n − 2`). Never padded or truncated.

use crate::capture::Sample;

/// The three kinds of timing feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Key down to the same key up.
    Hold,
    /// Key down to the next key down.
    DownDown,
    /// Key up to the next key down (negative when keys overlap).
    UpDown,
}

/// A feature vector bound to the key sequence it was measured on.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// The keys in press order.
    pub key_sequence: Vec<String>,
    /// `3n − 2` values in ms.
    pub values_ms: Vec<f64>,
}

impl Features {
    /// Computes the features of a sample.
    pub fn of(sample: &Sample) -> Features {
        let presses = sample.presses();
        let mut values_ms = Vec::with_capacity(feature_len(presses.len()));
        for (i, press) in presses.iter().enumerate() {
            values_ms.push(press.up_ms - press.down_ms);
            if let Some(next) = presses.get(i + 1) {
                values_ms.push(next.down_ms - press.down_ms);
                values_ms.push(next.down_ms - press.up_ms);
            }
        }
        Features {
            key_sequence: sample.key_sequence(),
            values_ms,
        }
    }
}

/// A 64-bit fingerprint of a feature vector's exact values: equal vectors (a replayed sample)
/// have equal fingerprints; different ones collide with negligible probability.
pub fn fingerprint(values: &[f64]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for value in values {
        // +0.0 and −0.0 are the same timing.
        (value + 0.0).to_bits().hash(&mut hasher);
    }
    hasher.finish()
}

/// Mean and sample standard deviation (0 for a single row) of each column of `rows`.
pub fn column_stats(rows: ndarray::ArrayView2<f64>) -> Vec<(f64, f64)> {
    let n = rows.nrows() as f64;
    rows.columns()
        .into_iter()
        .map(|column| {
            let mean = column.sum() / n;
            let sd = if rows.nrows() > 1 {
                (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            (mean, sd)
        })
        .collect()
}

/// Length of the feature vector for `n_keys` presses (0 for none).
pub fn feature_len(n_keys: usize) -> usize {
    (3 * n_keys).saturating_sub(2)
}

/// What feature `index` of a vector is, and the position of the key it starts at.
pub fn feature_kind(index: usize) -> (FeatureKind, usize) {
    let key = index / 3;
    let kind = match index % 3 {
        0 => FeatureKind::Hold,
        1 => FeatureKind::DownDown,
        _ => FeatureKind::UpDown,
    };
    (kind, key)
}

/// CMU-style column names for a key sequence: `H.a`, `DD.a.b`, `UD.a.b`, …
pub fn feature_names(key_sequence: &[String]) -> Vec<String> {
    (0..feature_len(key_sequence.len()))
        .map(|i| {
            let (kind, k) = feature_kind(i);
            match kind {
                FeatureKind::Hold => format!("H.{}", key_sequence[k]),
                FeatureKind::DownDown => format!("DD.{}.{}", key_sequence[k], key_sequence[k + 1]),
                FeatureKind::UpDown => format!("UD.{}.{}", key_sequence[k], key_sequence[k + 1]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{KeyAction::*, KeyEvent};

    fn sample(events: &[(&str, crate::capture::KeyAction, f64)]) -> Sample {
        Sample::from_events(
            events
                .iter()
                .map(|&(k, a, t)| KeyEvent::new(k, a, t).unwrap())
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn computes_the_spec_example() {
        let s = sample(&[
            ("p", Down, 100.0),
            ("p", Up, 250.0),
            ("a", Down, 350.0),
            ("a", Up, 510.0),
        ]);
        let f = Features::of(&s);
        assert_eq!(f.values_ms, [150.0, 250.0, 100.0, 160.0]);
        assert_eq!(f.key_sequence, ["p", "a"]);
    }

    #[test]
    fn up_down_is_negative_when_keys_overlap() {
        let s = sample(&[
            ("a", Down, 0.0),
            ("b", Down, 50.0),
            ("a", Up, 80.0),
            ("b", Up, 120.0),
        ]);
        assert_eq!(Features::of(&s).values_ms, [80.0, 50.0, -30.0, 70.0]);
    }

    #[test]
    fn length_is_three_n_minus_two() {
        let s = sample(&[
            ("a", Down, 0.0),
            ("a", Up, 10.0),
            ("b", Down, 20.0),
            ("b", Up, 30.0),
            ("c", Down, 40.0),
            ("c", Up, 55.0),
        ]);
        assert_eq!(Features::of(&s).values_ms.len(), 7);
        assert_eq!(feature_len(11), 31);
        assert_eq!(feature_len(0), 0);
    }

    #[test]
    fn names_follow_cmu_columns() {
        let keys = vec!["period".to_string(), "t".to_string()];
        assert_eq!(
            feature_names(&keys),
            ["H.period", "DD.period.t", "UD.period.t", "H.t"]
        );
    }
}
