//! Security levels: operating points of a per-user threshold. A user's threshold at a level is a
//! percentile of the user's own held-out scores (each training sample scored by the detector
//! fitted on the others): the higher the percentile, the more of the user's own attempts are
//! rejected and the fewer impostors pass. `docs/detectors.md` gives the false-accept and
//! false-reject rates each level has on every bundled data set.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How strict a user's threshold is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityLevel {
    /// Rejects one in twenty of the user's held-out samples: few genuine rejections, more
    /// impostors accepted (the product's only rule before levels).
    Convenient,
    /// Towards the equal-error point: false accepts and false rejects closer together (how
    /// close on each data set: `docs/detectors.md`).
    #[default]
    Balanced,
    /// Rejects a quarter of the user's held-out samples: few impostors pass.
    Strict,
}

impl SecurityLevel {
    /// Every level, loosest first.
    pub const ALL: [SecurityLevel; 3] = [
        SecurityLevel::Convenient,
        SecurityLevel::Balanced,
        SecurityLevel::Strict,
    ];

    /// The name in settings, files and /info.
    pub fn id(self) -> &'static str {
        match self {
            SecurityLevel::Convenient => "convenient",
            SecurityLevel::Balanced => "balanced",
            SecurityLevel::Strict => "strict",
        }
    }

    /// The percentile of the user's held-out scores below which an attempt is rejected.
    /// `balanced`'s is the one of 5, 7.5, 10, 12.5, 15, 17.5, 20, 25, 30, 40 and 50 whose
    /// largest |FAR − FRR| over the bundled sets, at 5 samples and at full enrolment, is
    /// smallest for the default detector (`cargo run --release --example threshold_balance --
    /// fusion`); chosen on any two of the three sets it is the same.
    pub fn percent(self) -> f64 {
        match self {
            SecurityLevel::Convenient => super::LOO_REJECT_PERCENT,
            SecurityLevel::Balanced => 12.5,
            SecurityLevel::Strict => 25.0,
        }
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for SecurityLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecurityLevel::ALL
            .into_iter()
            .find(|level| level.id() == s)
            .ok_or_else(|| {
                format!("unknown security level {s:?}; known: convenient, balanced, strict")
            })
    }
}

/// What a model is judged and updated by, learnt with it from the rows it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The detector's own threshold: scores at or above it are genuine where there are no
    /// `levels` (the isolation forest's `offset_`); otherwise `levels.convenient`.
    pub threshold: f64,
    /// The score an accepted attempt must reach to update the template.
    pub update_guard: f64,
    /// The threshold at each level (none for the isolation forest).
    pub levels: Option<LevelThresholds>,
}

impl Thresholds {
    /// The thresholds that are percentiles of a user's held-out scores: the acceptance
    /// threshold at [`LOO_REJECT_PERCENT`](super::LOO_REJECT_PERCENT), the update guard at
    /// [`UPDATE_GUARD_PERCENT`](super::UPDATE_GUARD_PERCENT) and each level's.
    pub fn from_held_out(mut scores: Vec<f64>) -> Thresholds {
        Thresholds {
            threshold: super::numpy_percentile(&mut scores, super::LOO_REJECT_PERCENT),
            update_guard: super::numpy_percentile(&mut scores, super::UPDATE_GUARD_PERCENT),
            levels: Some(LevelThresholds::from_held_out(scores)),
        }
    }

    /// The acceptance threshold at `level` (`threshold` where there are no levels).
    pub fn at(&self, level: SecurityLevel) -> f64 {
        self.levels
            .map_or(self.threshold, |levels| levels.at(level))
    }
}

/// A model's threshold at each level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelThresholds {
    /// At [`SecurityLevel::Convenient`].
    pub convenient: f64,
    /// At [`SecurityLevel::Balanced`].
    pub balanced: f64,
    /// At [`SecurityLevel::Strict`].
    pub strict: f64,
}

impl LevelThresholds {
    /// The thresholds from a user's held-out scores (any order; at least one).
    pub fn from_held_out(mut scores: Vec<f64>) -> LevelThresholds {
        let mut at = |level: SecurityLevel| super::numpy_percentile(&mut scores, level.percent());
        LevelThresholds {
            convenient: at(SecurityLevel::Convenient),
            balanced: at(SecurityLevel::Balanced),
            strict: at(SecurityLevel::Strict),
        }
    }

    /// The threshold at `level`.
    pub fn at(&self, level: SecurityLevel) -> f64 {
        match level {
            SecurityLevel::Convenient => self.convenient,
            SecurityLevel::Balanced => self.balanced,
            SecurityLevel::Strict => self.strict,
        }
    }

    /// Checks thresholds read from a file: finite, and no looser at a stricter level.
    pub fn validate(&self) -> Result<(), String> {
        let all = [self.convenient, self.balanced, self.strict];
        if let Some(bad) = all.iter().find(|t| !t.is_finite()) {
            return Err(format!("level threshold {bad} is not finite"));
        }
        if self.convenient > self.balanced || self.balanced > self.strict {
            return Err("level thresholds must not fall from convenient to strict".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_say_what_is_known() {
        for level in SecurityLevel::ALL {
            assert_eq!(level.id().parse::<SecurityLevel>(), Ok(level));
            assert_eq!(
                serde_json::to_value(level).unwrap(),
                serde_json::json!(level.id())
            );
        }
        assert_eq!(SecurityLevel::default(), SecurityLevel::Balanced);
        let err = "paranoid".parse::<SecurityLevel>().unwrap_err();
        assert!(err.contains("known: convenient, balanced, strict"), "{err}");
    }

    #[test]
    fn stricter_levels_take_higher_percentiles_of_the_held_out_scores() {
        // 21 scores 0, 1, …, 20: the p-th percentile is p / 5.
        let scores: Vec<f64> = (0..=20).rev().map(f64::from).collect();
        let t = LevelThresholds::from_held_out(scores);
        assert_eq!((t.convenient, t.balanced, t.strict), (1.0, 2.5, 5.0));
        assert_eq!(t.at(SecurityLevel::Strict), 5.0);
        assert_eq!(t.validate(), Ok(()));
        let swapped = LevelThresholds {
            convenient: 3.0,
            ..t
        };
        assert!(swapped.validate().is_err());
        let infinite = LevelThresholds {
            strict: f64::INFINITY,
            ..t
        };
        assert!(infinite.validate().unwrap_err().contains("not finite"));
        let loose_strict = LevelThresholds { strict: 2.0, ..t };
        assert!(loose_strict.validate().is_err());
    }

    #[test]
    fn the_update_guard_is_stricter_than_every_level() {
        for level in SecurityLevel::ALL {
            assert!(
                crate::detect::UPDATE_GUARD_PERCENT > level.percent(),
                "{level}"
            );
        }
    }
}
