//! Evaluation of detectors on keystroke data sets: the bundled development sets, any CSV in the
//! CMU layout or raw per-key event file, the Killourhy & Maxion protocol, ROCR-style error rates, and the rates of a live imposter-testing session.

mod bundled;
mod curves;
mod dataset;
mod eer;
mod live;
mod protocol;
mod raw_events;
mod store_data;

pub use bundled::{BUNDLED, BundledSet, CMU, IMPOSTOR_REPS};
pub use curves::{
    DET_TICKS, FigureCurve, PROBIT_FLOOR, equal_error_point, figure_svg, mean_curve, percent,
    probit,
};
pub use dataset::{DataError, Dataset, Subject, load_csv, parse_csv};
pub use eer::{ErrorRates, RocPoint, error_rates, frr_at_far, rates_at, roc_points};
pub use live::{Attempt, Label, SessionRates, histogram};
pub use protocol::{
    Cohort, DetectorResult, EvalError, Evaluation, LevelRates, Protocol, Rows, Split,
    SubjectResult, SubjectScores, UpdatePhase,
};
pub use raw_events::{RawColumns, load_raw_events, parse_raw_events};
pub use store_data::{MIN_STORE_SAMPLES, StoreDataError, store_dataset};
