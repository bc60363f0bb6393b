//! Isolation forest with scikit-learn's semantics (`sklearn.ensemble.IsolationForest`, 1.9):
//! ψ = min(256, n) rows per tree drawn without replacement, height limit ⌈log₂ ψ⌉, random
//! non-constant feature and uniform threshold per node, path length `e + c(n_leaf)`,
//! `score_samples = −2^(−mean h / c(ψ))`, `decision_function = score_samples − offset_`.
//! Trees differ from scikit-learn's draw for draw (another random generator); the score
//! distribution is the same.

mod registered;
mod repr;
mod tree;

use ndarray::ArrayView2;
use rand::{RngExt, SeedableRng, seq::index};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Detector, FitError, Scorer, check_training};
use tree::{Columns, Tree};

/// Euler–Mascheroni constant, as `np.euler_gamma`.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Most rows one tree is grown on with `max_samples = auto`.
const AUTO_MAX_SAMPLES: usize = 256;

/// Average path length of an unsuccessful search in a binary search tree of `n` points, as
/// scikit-learn computes it: 0 for n ≤ 1, 1 for n = 2, else 2(ln(n−1) + γ) − 2(n−1)/n.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Rows each tree is grown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "repr::AutoOr<usize>", into = "repr::AutoOr<usize>")]
pub enum MaxSamples {
    /// min(256, n).
    #[default]
    Auto,
    /// min(k, n).
    Count(usize),
}

/// How `offset_` (the decision threshold) is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "repr::AutoOr<f64>", into = "repr::AutoOr<f64>")]
pub enum Contamination {
    /// `offset_ = −0.5`.
    Auto,
    /// `offset_` = the training scores' percentile at this fraction, in (0, 0.5].
    Fraction(f64),
}

impl std::str::FromStr for Contamination {
    type Err = String;
    /// Parses `auto` or a fraction in (0, 0.5].
    fn from_str(s: &str) -> Result<Self, String> {
        let contamination =
            match s.trim() {
                "auto" => Contamination::Auto,
                other => Contamination::Fraction(other.parse().map_err(|_| {
                    format!("contamination must be \"auto\" or a number, got {s:?}")
                })?),
            };
        IsolationForestParams::default()
            .contamination(contamination)
            .validate()
            .map_err(|e| e.to_string())?;
        Ok(contamination)
    }
}

impl Default for Contamination {
    /// The product's default, 0.1 (scikit-learn's is `auto`).
    fn default() -> Self {
        Contamination::Fraction(0.1)
    }
}

/// Isolation-forest parameters. Defaults: 100 trees, `max_samples` auto, contamination 0.1,
/// seed 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationForestParams {
    n_trees: usize,
    max_samples: MaxSamples,
    contamination: Contamination,
    seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            n_trees: 100,
            max_samples: MaxSamples::Auto,
            contamination: Contamination::default(),
            seed: 42,
        }
    }
}

impl IsolationForestParams {
    /// Number of trees.
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.n_trees = n_trees;
        self
    }
    /// Rows per tree.
    pub fn max_samples(mut self, max_samples: MaxSamples) -> Self {
        self.max_samples = max_samples;
        self
    }
    /// How the decision threshold is set.
    pub fn contamination(mut self, contamination: Contamination) -> Self {
        self.contamination = contamination;
        self
    }
    /// Seed of the random generator: the same seed and data give the same forest.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// The seed.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }
    /// The number of trees.
    pub fn get_n_trees(&self) -> usize {
        self.n_trees
    }
    /// The contamination.
    pub fn get_contamination(&self) -> Contamination {
        self.contamination
    }

    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), FitError> {
        if self.n_trees == 0 || self.n_trees > 10_000 {
            return Err(FitError::InvalidParam(format!(
                "n_trees must be 1–10000, got {}",
                self.n_trees
            )));
        }
        if self.max_samples == MaxSamples::Count(0) {
            return Err(FitError::InvalidParam(
                "max_samples must be at least 1".into(),
            ));
        }
        if let Contamination::Fraction(f) = self.contamination
            && !(f > 0.0 && f <= 0.5)
        {
            return Err(FitError::InvalidParam(format!(
                "contamination must be in (0, 0.5] or \"auto\", got {f}"
            )));
        }
        Ok(())
    }
}

/// A fitted isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "repr::IsolationForestRepr",
    into = "repr::IsolationForestRepr"
)]
pub struct IsolationForest {
    params: IsolationForestParams,
    n_features: usize,
    max_samples: usize,
    offset: f64,
    trees: Vec<Tree>,
}

impl IsolationForest {
    /// Default parameters, to adjust and fit.
    pub fn params() -> IsolationForestParams {
        IsolationForestParams::default()
    }

    /// The parameters it was fitted with.
    pub fn fitted_params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// ψ, the rows each tree was grown on (`max_samples_`).
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// `offset_`: `decision_function = score_samples − offset_`.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// Approximate heap size, in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.trees.iter().map(Tree::heap_bytes).sum()
    }

    /// scikit-learn's `score_samples`: −2^(−mean path length / c(ψ)), in [−1, 0); higher is
    /// more normal.
    pub fn score_samples(&self, x: &[f64]) -> Result<f64, super::LengthMismatch> {
        self.score(x)
    }

    /// scikit-learn's `decision_function`: `score_samples − offset_`; negative = outlier.
    pub fn decision_function(&self, x: &[f64]) -> Result<f64, super::LengthMismatch> {
        Ok(self.score(x)? - self.offset)
    }

    /// `score_samples` of `n` rows laid out one after another in `x` (float32). Walks the
    /// trees in the outer loop so each stays in cache while every row passes through it.
    fn score_f32_rows(&self, x: &[f32], n: usize) -> Vec<f64> {
        let denominator = self.trees.len() as f64 * average_path_length(self.max_samples);
        if denominator == 0.0 {
            // ψ = 1: scikit-learn sets the exponent to −1.
            return vec![-0.5; n];
        }
        let mut totals = vec![CompensatedSum::default(); n];
        for tree in &self.trees {
            tree.add_path_lengths(x, self.n_features, &mut totals);
        }
        totals
            .iter()
            .map(|t| -(2f64.powf(-t.value() / denominator)))
            .collect()
    }
}

impl Detector for IsolationForestParams {
    type Model = IsolationForest;

    fn fit(&self, train: ArrayView2<f64>) -> Result<IsolationForest, FitError> {
        self.validate()?;
        check_training("Isolation forest", train, 1)?;
        let (n, d) = train.dim();
        let psi = match self.max_samples {
            MaxSamples::Auto => n.min(AUTO_MAX_SAMPLES),
            MaxSamples::Count(k) => k.min(n),
        };
        let max_depth = max_depth(psi);
        let columns = Columns::new(n, d, |row, feature| train[(row, feature)]);
        let mut seeds = ChaCha8Rng::seed_from_u64(self.seed);
        let trees = (0..self.n_trees)
            .map(|_| {
                let mut rng = ChaCha8Rng::seed_from_u64(seeds.random());
                let mut rows: Vec<u32> = if psi == n {
                    (0..n as u32).collect()
                } else {
                    index::sample(&mut rng, n, psi)
                        .into_iter()
                        .map(|i| i as u32)
                        .collect()
                };
                tree::grow(&columns, &mut rows, max_depth, &mut rng)
            })
            .collect();
        let mut forest = IsolationForest {
            params: self.clone(),
            n_features: d,
            max_samples: psi,
            offset: -0.5,
            trees,
        };
        if let Contamination::Fraction(fraction) = self.contamination {
            let mut scores = forest
                .score_rows(train)
                .expect("scored on the rows it was fitted on");
            forest.offset = numpy_percentile(&mut scores, 100.0 * fraction);
        }
        Ok(forest)
    }
}

impl Scorer for IsolationForest {
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        self.score_f32_rows(&x32, 1)[0]
    }

    fn score_rows(&self, rows: ArrayView2<f64>) -> Result<Vec<f64>, super::LengthMismatch> {
        if rows.ncols() != self.n_features {
            return Err(super::LengthMismatch {
                expected: self.n_features,
                got: rows.ncols(),
            });
        }
        let x32: Vec<f32> = rows.iter().map(|&v| v as f32).collect();
        Ok(self.score_f32_rows(&x32, rows.nrows()))
    }
}

/// Neumaier's compensated sum: correctly rounded for the sums met here, so T equal path
/// lengths c sum to exactly fl(T·c) and identical training rows score exactly −0.5.
#[derive(Debug, Clone, Copy, Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    #[inline]
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        self.compensation += if self.sum.abs() >= v.abs() {
            (self.sum - t) + v
        } else {
            (v - t) + self.sum
        };
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// ⌈log₂ max(ψ, 2)⌉, the height limit in edges.
fn max_depth(psi: usize) -> u32 {
    usize::BITS - (psi.max(2) - 1).leading_zeros()
}

/// `np.percentile(values, q)` with NumPy's default linear method, to the last bit: the virtual
/// index `n·q + (1 − q) − 1` and NumPy's `_lerp`. Sorts `values`.
pub(crate) fn numpy_percentile(values: &mut [f64], percent: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let q = percent / 100.0;
    let virtual_index = (n as f64 * q + (1.0 - q) - 1.0).clamp(0.0, (n - 1) as f64);
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let a = values[previous as usize];
    let b = values[(previous as usize + 1).min(n - 1)];
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-8
    }

    #[test]
    fn average_path_length_matches_scikit_learn() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        assert!(close(average_path_length(3), 1.2073924));
        assert!(close(average_path_length(5), 2.3270201));
        assert!(close(average_path_length(200), 9.7510410));
        assert!(close(average_path_length(256), 10.2447709));
    }

    #[test]
    fn height_limit_is_ceil_log2_of_psi() {
        let depths: Vec<u32> = [1, 2, 5, 20, 25, 30, 200, 256, 257].map(max_depth).to_vec();
        assert_eq!(depths, [1, 1, 3, 5, 5, 5, 8, 8, 9]);
    }

    #[test]
    fn identical_rows_score_minus_one_half() {
        let x = Array2::from_elem((20, 4), 3.25);
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        assert_eq!(forest.score_samples(&[3.25; 4]).unwrap(), -0.5);
        assert_eq!(forest.score_samples(&[100.0, 0.0, 1.0, 2.0]).unwrap(), -0.5);
    }

    #[test]
    fn one_training_row_scores_minus_one_half() {
        let forest = IsolationForest::params()
            .fit(array![[1.0, 2.0]].view())
            .unwrap();
        assert_eq!(forest.score_samples(&[5.0, 5.0]).unwrap(), -0.5);
    }

    #[test]
    fn same_seed_same_forest_other_seed_other_forest() {
        let x = Array2::from_shape_fn((50, 7), |(r, c)| ((r * 31 + c * 17) % 23) as f64);
        let a = IsolationForest::params().seed(7).fit(x.view()).unwrap();
        let b = IsolationForest::params().seed(7).fit(x.view()).unwrap();
        let c = IsolationForest::params().seed(8).fit(x.view()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.trees, c.trees);
    }

    #[test]
    fn outlier_scores_lower_than_inliers() {
        let x = Array2::from_shape_fn((100, 3), |(r, c)| ((r * 7 + c * 3) % 10) as f64);
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        let inlier = forest.score_samples(&[5.0, 5.0, 5.0]).unwrap();
        let outlier = forest.score_samples(&[50.0, -40.0, 90.0]).unwrap();
        assert!(outlier < inlier, "{outlier} !< {inlier}");
        assert!(forest.decision_function(&[50.0, -40.0, 90.0]).unwrap() < 0.0);
    }

    #[test]
    fn contamination_flags_about_that_fraction_of_training_rows() {
        let x = Array2::from_shape_fn((200, 5), |(r, c)| {
            ((r * 13 + c * 29) % 37) as f64 + r as f64 * 0.01
        });
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        let flagged = x
            .rows()
            .into_iter()
            .filter(|r| forest.decision_function(&r.to_vec()).unwrap() < 0.0)
            .count();
        assert_eq!(flagged, 20);
    }

    #[test]
    fn auto_contamination_offset_is_minus_one_half() {
        let x = Array2::from_shape_fn((30, 2), |(r, c)| (r + c) as f64);
        let forest = IsolationForest::params()
            .contamination(Contamination::Auto)
            .fit(x.view())
            .unwrap();
        assert_eq!(forest.offset(), -0.5);
    }

    #[test]
    fn subsamples_when_more_than_256_rows() {
        let x = Array2::from_shape_fn((300, 2), |(r, c)| (r * (c + 1)) as f64);
        let forest = IsolationForest::params().n_trees(3).fit(x.view()).unwrap();
        assert_eq!(forest.max_samples(), 256);
        assert!(forest.trees.iter().all(|t| t.n_samples()[0] == 256));
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1, 2, 3, 4], 10) == 1.3; np.percentile([5, 1, 3], 50) == 3.0
        assert!((numpy_percentile(&mut [1.0, 2.0, 3.0, 4.0], 10.0) - 1.3).abs() < 1e-15);
        assert_eq!(numpy_percentile(&mut [5.0, 1.0, 3.0], 50.0), 3.0);
        assert_eq!(numpy_percentile(&mut [2.0], 10.0), 2.0);
    }

    #[test]
    fn rejects_out_of_range_params() {
        let x = array![[1.0], [2.0]];
        assert!(IsolationForest::params().n_trees(0).fit(x.view()).is_err());
        let bad = IsolationForest::params().contamination(Contamination::Fraction(0.7));
        assert_eq!(
            bad.fit(x.view()).unwrap_err().to_string(),
            "invalid parameter: contamination must be in (0, 0.5] or \"auto\", got 0.7"
        );
    }
}
