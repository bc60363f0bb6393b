//! Evaluation of detectors on keystroke benchmarks: the CMU data set, the Killourhy & Maxion
//! protocol, and ROCR-style error rates.

mod cmu;
mod eer;
mod protocol;

pub use cmu::{
    BUNDLED_CMU_PATH, CMU_FILE_NAME, CmuError, Dataset, Subject, load_cmu, locate_cmu, parse_cmu,
};
pub use eer::{ErrorRates, RocPoint, error_rates, roc_points};
pub use protocol::{DetectorResult, EvalError, Evaluation, Protocol, SubjectResult};
