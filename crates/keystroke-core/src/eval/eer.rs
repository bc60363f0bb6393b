//! Error rates from genuine and impostor scores, computed as the authors of the CMU benchmark
//! computed them with R's ROCR: impostors are the positive class, every distinct score is a
//! cutoff, and the equal-error rate is interpolated where miss − false alarm changes sign.

use serde::Serialize;

/// One operating point: a sample is accepted as genuine when its score is above `cutoff`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// Genuineness cutoff (−∞ for the first point, where nothing is flagged).
    pub cutoff: f64,
    /// Fraction of impostor samples accepted.
    pub miss: f64,
    /// Fraction of genuine samples flagged.
    pub false_alarm: f64,
}

/// The summary rates of one score set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorRates {
    /// Equal-error rate.
    pub eer: f64,
    /// False-alarm rate at the first cutoff that misses no impostor.
    pub zero_miss_far: f64,
}

/// The false-alarm (false-reject) rate at the first cutoff whose miss (false-accept) rate is at
/// most `max_miss`: the product's "FRR at FAR = x". `None` when either set is empty. With fewer
/// than `1 / max_miss` impostor samples it is the zero-miss rate.
pub fn frr_at_far(genuine: &[f64], impostor: &[f64], max_miss: f64) -> Option<f64> {
    roc_points(genuine, impostor)
        .into_iter()
        .find(|p| p.miss <= max_miss)
        .map(|p| p.false_alarm)
}

/// (false-reject, false-accept) rates when samples scoring at least `threshold` are accepted.
pub fn rates_at(genuine: &[f64], impostor: &[f64], threshold: f64) -> (f64, f64) {
    let share = |scores: &[f64], f: &dyn Fn(f64) -> bool| {
        scores.iter().filter(|&&s| f(s)).count() as f64 / scores.len().max(1) as f64
    };
    (
        share(genuine, &|s| s < threshold),
        share(impostor, &|s| s >= threshold),
    )
}

/// Every operating point, from flagging nothing to flagging everything. Scores are genuineness
/// (higher = more genuine); equal scores form one cutoff. Empty when either set is empty.
pub fn roc_points(genuine: &[f64], impostor: &[f64]) -> Vec<RocPoint> {
    if genuine.is_empty() || impostor.is_empty() {
        return Vec::new();
    }
    // (score, is impostor), most anomalous (lowest genuineness) first.
    let mut all: Vec<(f64, bool)> = genuine
        .iter()
        .map(|&s| (s, false))
        .chain(impostor.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (n_genuine, n_impostor) = (genuine.len() as f64, impostor.len() as f64);
    let (mut flagged_genuine, mut flagged_impostor) = (0_usize, 0_usize);
    let mut points = vec![RocPoint {
        cutoff: f64::NEG_INFINITY,
        miss: 1.0,
        false_alarm: 0.0,
    }];
    let mut i = 0;
    while i < all.len() {
        let cutoff = all[i].0;
        while i < all.len() && all[i].0 == cutoff {
            if all[i].1 {
                flagged_impostor += 1
            } else {
                flagged_genuine += 1
            }
            i += 1;
        }
        points.push(RocPoint {
            cutoff,
            miss: (impostor.len() - flagged_impostor) as f64 / n_impostor,
            false_alarm: flagged_genuine as f64 / n_genuine,
        });
    }
    points
}

/// Equal-error and zero-miss false-alarm rates; `None` when either set is empty.
pub fn error_rates(genuine: &[f64], impostor: &[f64]) -> Option<ErrorRates> {
    let points = roc_points(genuine, impostor);
    // miss − fa falls from 1 to −1 along the points; find where it turns negative.
    let after = points.iter().position(|p| p.miss - p.false_alarm < 0.0)?;
    let (x, y) = (points[after - 1], points[after]);
    let a = (x.miss - x.false_alarm) / (y.false_alarm - x.false_alarm - y.miss + x.miss);
    let eer = x.miss + a * (y.miss - x.miss);
    let zero_miss_far = points.iter().find(|p| p.miss == 0.0)?.false_alarm;
    Some(ErrorRates { eer, zero_miss_far })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_separation_has_zero_eer() {
        let r = error_rates(&[5.0, 6.0, 7.0], &[1.0, 2.0]).unwrap();
        assert_eq!(
            r,
            ErrorRates {
                eer: 0.0,
                zero_miss_far: 0.0
            }
        );
    }

    #[test]
    fn reversed_scores_have_eer_one() {
        let r = error_rates(&[1.0, 2.0], &[5.0, 6.0]).unwrap();
        assert_eq!(r.eer, 1.0);
        assert_eq!(r.zero_miss_far, 1.0);
    }

    #[test]
    fn interpolates_between_the_two_points_around_the_crossing() {
        // Sweep: (miss, fa) = (1,0) → (1/2,0) at 1 → (1/2,1/2) at 2 → (0,1/2) at 3 → (0,1) at 4.
        // Last point with miss − fa ≥ 0 is (1/2,1/2); next (0,1/2): a = 0 → EER 0.5.
        let r = error_rates(&[2.0, 4.0], &[1.0, 3.0]).unwrap();
        assert_eq!(r.eer, 0.5);
        assert_eq!(r.zero_miss_far, 0.5);
    }

    #[test]
    fn interpolation_with_unequal_sets() {
        // genuine 0.5, 3; impostor 1, 2, 4. Points: (1,0) (1,1/2) (2/3,1/2) (1/3,1/2) (1/3,1) (0,1).
        // Crossing between (2/3,1/2) and (1/3,1/2): a = (1/6)/(1/3) = 1/2 → EER = 1/2.
        let r = error_rates(&[0.5, 3.0], &[1.0, 2.0, 4.0]).unwrap();
        assert!((r.eer - 0.5).abs() < 1e-15);
        // Between (1, 0) and (1, 1/2) nothing crosses; check a true interpolation too:
        // genuine 2; impostor 1, 3: (1,0) (1/2,0) (1/2,1) (0,1) → a between (1/2,0),(1/2,1) = 1/2.
        let r = error_rates(&[2.0], &[1.0, 3.0]).unwrap();
        assert_eq!(r.eer, 0.5);
    }

    #[test]
    fn ties_form_one_cutoff() {
        let points = roc_points(&[1.0, 1.0, 2.0], &[1.0]);
        assert_eq!(points.len(), 3);
        assert_eq!(
            points[1],
            RocPoint {
                cutoff: 1.0,
                miss: 0.0,
                false_alarm: 2.0 / 3.0
            }
        );
    }

    #[test]
    fn frr_at_a_far_takes_the_first_cutoff_that_accepts_few_enough_impostors() {
        // Impostors 1..=10, genuine 5.5, 8.5, 20: accepting ≤ 10 % of impostors needs a cutoff
        // above 9, which flags 5.5 and 8.5 (2 of 3 genuine); ≤ 50 % only needs one above 5.
        let impostor: Vec<f64> = (1..=10).map(f64::from).collect();
        let genuine = [5.5, 8.5, 20.0];
        assert_eq!(frr_at_far(&genuine, &impostor, 0.1), Some(2.0 / 3.0));
        assert_eq!(frr_at_far(&genuine, &impostor, 0.5), Some(0.0));
        assert_eq!(frr_at_far(&genuine, &impostor, 0.0), Some(2.0 / 3.0));
        assert_eq!(rates_at(&genuine, &impostor, 8.5), (1.0 / 3.0, 0.2));
    }

    #[test]
    fn empty_sets_have_no_rates() {
        assert_eq!(error_rates(&[], &[1.0]), None);
        assert!(roc_points(&[1.0], &[]).is_empty());
    }
}
