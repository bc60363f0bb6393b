//! Evaluation of detectors on keystroke benchmarks: the CMU data set, the Killourhy & Maxion
//! protocol, ROCR-style error rates, and the rates of a live imposter-testing session.

mod cmu;
mod eer;
mod live;
mod protocol;
mod store_data;

pub use cmu::{
    BUNDLED_CMU_PATH, CMU_FILE_NAME, CmuError, Dataset, Subject, load_cmu, locate_cmu, parse_cmu,
};
pub use eer::{ErrorRates, RocPoint, error_rates, frr_at_far, rates_at, roc_points};
pub use live::{Attempt, Label, SessionRates, histogram};
pub use protocol::{
    DetectorResult, EvalError, Evaluation, Protocol, SubjectResult, SubjectScores, UpdatePhase,
};
pub use store_data::{MIN_STORE_SAMPLES, StoreDataError, store_dataset};
