//! Per-column statistics of a training matrix with one row left out, for every row at once:
//! what a detector refitted on the other rows would compute, without refitting. Leave-one-out
//! scores set thresholds; refitting once per row copies the matrix and sorts every column each
//! time, which at a few hundred samples made /train take a third of a second.
//!
//! The sums run over the other rows in row order, as a refit's column sums do, so the results
//! equal a refit's to the last bit (tests in the detectors' files check that on every bundled
//! subject).

use ndarray::{Array2, ArrayView2};

use super::check_training;

/// Whether the shortcuts here cannot stand in for refitting on `train`: too few rows to fit on
/// all but one, bad values (the refit says which, for the detector called `label`), or one
/// column (whose sums a refit adds in another order).
pub(crate) fn must_refit(label: &'static str, train: ArrayView2<f64>) -> bool {
    train.nrows() < 3 || train.ncols() < 2 || check_training(label, train, 1).is_err()
}

/// For each row `i` (of `n`, at least two) and column: the mean of the other rows' values, and
/// the sum of their squared deviations from that mean. Both `n × columns`.
pub(crate) fn moments_without_each_row(train: ArrayView2<f64>) -> (Array2<f64>, Array2<f64>) {
    let (n, columns) = train.dim();
    let others = (n - 1) as f64;
    let mut means = Array2::zeros((n, columns));
    let mut squares = Array2::zeros((n, columns));
    for (j, column) in train.columns().into_iter().enumerate() {
        let values = column.to_vec();
        for i in 0..n {
            let rest = || values.iter().enumerate().filter(move |&(k, _)| k != i);
            let mean = rest().fold(0.0, |sum, (_, x)| sum + x) / others;
            let sum = rest().fold(0.0, |sum, (_, x)| sum + (x - mean) * (x - mean));
            means[[i, j]] = mean;
            squares[[i, j]] = sum;
        }
    }
    (means, squares)
}

/// For each row `i` (of at least two) and column: the median of the other rows' values, as
/// `numpy.percentile(…, 50)` computes it. Each column is sorted once.
pub(crate) fn medians_without_each_row(train: ArrayView2<f64>) -> Array2<f64> {
    let (n, columns) = train.dim();
    let mut medians = Array2::zeros((n, columns));
    for (j, column) in train.columns().into_iter().enumerate() {
        let values = column.to_vec();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let sorted: Vec<f64> = order.iter().map(|&k| values[k]).collect();
        for (rank, &i) in order.iter().enumerate() {
            medians[[i, j]] = median_without(&sorted, rank);
        }
    }
    medians
}

/// The median (as `numpy.percentile` computes it) of ascending `sorted` without the value at
/// position `skip`.
pub(crate) fn median_without(sorted: &[f64], skip: usize) -> f64 {
    let at = |k: usize| sorted[if k < skip { k } else { k + 1 }];
    let m = sorted.len() - 1;
    if m % 2 == 1 {
        at(m / 2)
    } else {
        let (a, b) = (at(m / 2 - 1), at(m / 2));
        b - (b - a) * 0.5
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ndarray::Array2;

    use crate::eval::BUNDLED;

    /// Every bundled subject's first `rows` samples (fewer where a set has fewer), where the
    /// bundled data are present.
    pub(crate) fn bundled_subjects(rows: usize) -> Vec<Array2<f64>> {
        BUNDLED
            .iter()
            .filter_map(|set| set.load().ok())
            .flat_map(|data| data.subjects)
            .map(|s| {
                let n = rows.min(s.samples_ms.nrows());
                s.samples_ms.slice(ndarray::s![..n, ..]).to_owned()
            })
            .collect()
    }
}
