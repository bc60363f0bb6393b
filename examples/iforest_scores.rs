//! Prints isolation-forest `score_samples` for a CSV of training rows and a CSV of test rows
//! (plain numbers, comma-separated), for comparison with scikit-learn.
//!
//!     cargo run --release --example iforest_scores -- TRAIN.csv TEST.csv [N_TREES] [SEED]

use keystroke_workbench::detect::{Detector, IsolationForest, Scorer};
use ndarray::Array2;

fn read(path: &str) -> Array2<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse().expect("a number"))
                .collect()
        })
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rows of equal length")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (train, test) = (read(&args[1]), read(&args[2]));
    let n_trees = args
        .get(3)
        .map_or(100, |s| s.parse().expect("a tree count"));
    let seed = args.get(4).map_or(0, |s| s.parse().expect("a seed"));
    let forest = IsolationForest::params()
        .n_trees(n_trees)
        .seed(seed)
        .fit(train.view())
        .expect("fits");
    for score in forest.score_rows(test.view()).expect("same width") {
        println!("{score}");
    }
}
