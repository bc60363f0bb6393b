//! Curves for figures: the normal-deviate (probit) scale of DET plots (Martin et al. 1997),
//! a detector's mean curve over its subjects (vertical averaging), the mean curve's
//! equal-error point, and the figure as SVG.

use std::fmt::Write;

use super::RocPoint;

/// Rates drawn on a probit axis are clamped to `[PROBIT_FLOOR, 1 − PROBIT_FLOOR]` (0 and 1
/// lie at infinity).
pub const PROBIT_FLOOR: f64 = 1e-3;

/// The rates marked on a DET plot's axes.
pub const DET_TICKS: [f64; 13] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95,
];

/// The standard normal quantile Φ⁻¹(p) (Acklam's rational approximation, relative error
/// below 1.2e-9), with `p` clamped to `[PROBIT_FLOOR, 1 − PROBIT_FLOOR]`.
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let p = p.clamp(PROBIT_FLOOR, 1.0 - PROBIT_FLOOR);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The miss rate of one subject's curve (its operating points, false alarms rising) at
/// false-alarm rate `far`, interpolated linearly between the points around it, as its EER is
/// ([`super::error_rates`]); where points share a false-alarm rate, the lowest miss counts.
fn miss_at(points: &[RocPoint], far: f64) -> f64 {
    // The last point at or before `far` (of several at one rate, the lowest miss), and the
    // next one after it (of several, the highest: where the curve's segment from `below` ends).
    let below = points
        .iter()
        .filter(|p| p.false_alarm <= far)
        .max_by(|a, b| (a.false_alarm.total_cmp(&b.false_alarm)).then(b.miss.total_cmp(&a.miss)));
    let above = points
        .iter()
        .filter(|p| p.false_alarm > far)
        .min_by(|a, b| (a.false_alarm.total_cmp(&b.false_alarm)).then(b.miss.total_cmp(&a.miss)));
    match (below, above) {
        (Some(lo), Some(hi)) => {
            let t = (far - lo.false_alarm) / (hi.false_alarm - lo.false_alarm);
            lo.miss + t * (hi.miss - lo.miss)
        }
        (Some(lo), None) => lo.miss,
        (None, Some(hi)) => hi.miss,
        (None, None) => 1.0,
    }
}

/// The mean of the subjects' curves (vertical averaging: the mean miss rate at each of
/// `steps + 1` false-alarm rates from 0 to 1), as `(false alarm, miss)` pairs.
pub fn mean_curve(curves: &[&[RocPoint]], steps: usize) -> Vec<(f64, f64)> {
    let curves: Vec<&[RocPoint]> = curves.iter().copied().filter(|c| !c.is_empty()).collect();
    if curves.is_empty() {
        return Vec::new();
    }
    let steps = steps.max(1);
    (0..=steps)
        .map(|i| {
            let far = i as f64 / steps as f64;
            let miss = curves.iter().map(|c| miss_at(c, far)).sum::<f64>() / curves.len() as f64;
            (far, miss)
        })
        .collect()
}

/// Where a curve of `(false alarm, miss)` pairs (false alarm ascending) crosses the diagonal
/// miss = false alarm, interpolated between its points.
pub fn equal_error_point(curve: &[(f64, f64)]) -> Option<f64> {
    let first = curve.iter().position(|&(far, miss)| miss <= far)?;
    if first == 0 {
        return Some(curve[0].0);
    }
    let ((x0, y0), (x1, y1)) = (curve[first - 1], curve[first]);
    // d(t) = miss − far goes from positive to ≤ 0 along the segment.
    let (d0, d1) = (y0 - x0, y1 - x1);
    let t = d0 / (d0 - d1);
    Some(x0 + t * (x1 - x0))
}

/// One curve of a figure: a name, a colour (`#rrggbb`) and `(false alarm, miss)` pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureCurve {
    /// Legend entry.
    pub name: String,
    /// Stroke colour.
    pub colour: String,
    /// The curve.
    pub points: Vec<(f64, f64)>,
    /// Its equal-error rate, marked with a dot.
    pub eer: Option<f64>,
}

/// A ROC (hit rate against false alarm, linear axes) or DET (miss rate against false alarm,
/// probit axes) figure of `curves` as a self-contained SVG document, 480 high and 640 wide or
/// wider: the legend on the right takes the room its longest entry needs.
pub fn figure_svg(title: &str, curves: &[FigureCurve], det: bool) -> String {
    let legends: Vec<String> = curves
        .iter()
        .map(|c| {
            let eer = c.eer.map_or(String::new(), |e| format!(" (EER {e:.3})"));
            format!("{}{eer}", c.name)
        })
        .collect();
    let longest = legends.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    // 11-point sans-serif averages under 6.5 px a character; the swatch takes 36 px.
    let right = (44.0 + 6.5 * longest as f64).max(170.0);
    let (left, top, bottom, pw, ph) = (70.0, 40.0, 60.0, 400.0, 380.0);
    let (w, h) = (left + pw + right, top + ph + bottom);
    let axis = |p: f64| {
        if det {
            let (lo, hi) = (probit(PROBIT_FLOOR), probit(1.0 - PROBIT_FLOOR));
            (probit(p) - lo) / (hi - lo)
        } else {
            p
        }
    };
    let x = |far: f64| left + axis(far) * pw;
    let y = |miss: f64| {
        let v = if det { miss } else { 1.0 - miss };
        top + (1.0 - axis(v)) * ph
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        left + pw / 2.0,
        escape(title)
    );
    let ticks: Vec<f64> = if det {
        DET_TICKS.to_vec()
    } else {
        (0..=10).map(|i| f64::from(i) / 10.0).collect()
    };
    for &t in &ticks {
        let (tx, ty) = (x(t), top + (1.0 - axis(t)) * ph);
        let label = percent(t);
        let _ = writeln!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{top}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            top + ph,
            top + ph + 14.0
        );
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            left + pw,
            left - 4.0,
            ty + 4.0
        );
    }
    let _ = writeln!(
        svg,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">false-alarm rate (genuine rejected)</text>"#,
        left + pw / 2.0,
        h - 18.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        top + ph / 2.0,
        if det {
            "miss rate (impostors accepted)"
        } else {
            "hit rate (impostors caught)"
        }
    );
    for (i, (curve, legend)) in curves.iter().zip(&legends).enumerate() {
        let path: Vec<String> = curve
            .points
            .iter()
            .map(|&(far, miss)| format!("{:.1},{:.1}", x(far), y(miss)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            curve.colour,
            path.join(" ")
        );
        if let Some(eer) = curve.eer {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}"/>"#,
                x(eer),
                y(eer),
                curve.colour
            );
        }
        let ly = top + 14.0 + 18.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            left + pw + 32.0,
            curve.colour,
            left + pw + 36.0,
            ly + 4.0,
            escape(legend),
            lx = left + pw + 12.0,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A rate as a percentage for an axis: `0.1%`, `5%`, `60%`.
pub fn percent(rate: f64) -> String {
    let v = 100.0 * rate;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}%", v.round())
    } else {
        format!("{v:.1}%")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::roc_points;

    #[test]
    fn probit_is_the_normal_quantile() {
        assert!(probit(0.5).abs() < 1e-9);
        assert!((probit(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((probit(0.01) + 2.326_347_874).abs() < 1e-6);
        assert!((probit(0.1) + probit(0.9)).abs() < 1e-9);
        // 0 and 1 are clamped, never infinite.
        assert_eq!(probit(0.0), probit(PROBIT_FLOOR));
        assert!(probit(1.0).is_finite());
    }

    #[test]
    fn the_mean_curve_averages_miss_rates_and_crosses_the_diagonal_at_the_eer() {
        // Subject A: separable (EER 0); subject B: every score tied (EER 0.5).
        let a = roc_points(&[1.0, 2.0], &[-1.0, -2.0]);
        let b = roc_points(&[0.0, 0.0], &[0.0, 0.0]);
        let mean = mean_curve(&[&a, &b], 4);
        assert_eq!(mean.len(), 5);
        // A misses nothing at any false-alarm rate; B's line runs from (0, 1) to (1, 0): the
        // mean is (1 − x) / 2, which meets miss = false alarm at 1/3, between the subjects'
        // own EERs (0 and 0.5).
        assert_eq!(mean[0], (0.0, 0.5));
        assert_eq!(mean[2], (0.5, 0.25));
        assert_eq!(mean[4], (1.0, 0.0));
        let eer = equal_error_point(&mean).unwrap();
        assert!((eer - 1.0 / 3.0).abs() < 1e-9, "{eer}");
        assert!(mean_curve(&[], 4).is_empty());
        let separable = mean_curve(&[&a], 4);
        assert_eq!(equal_error_point(&separable), Some(0.0));
    }

    #[test]
    fn the_svg_figure_names_its_curves_and_marks_the_det_axes() {
        let curve = FigureCurve {
            name: "Manhattan <scaled>".into(),
            colour: "#1f77b4".into(),
            points: vec![(0.0, 1.0), (0.1, 0.1), (1.0, 0.0)],
            eer: Some(0.1),
        };
        let svg = figure_svg("CMU & co", &[curve], true);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("Manhattan &lt;scaled&gt; (EER 0.100)"));
        assert!(svg.contains("CMU &amp; co"));
        assert!(svg.contains(">0.1%<") && svg.contains(">60%<") && !svg.contains(">50%<"));
        assert!(svg.contains("miss rate (impostors accepted)"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn a_long_legend_entry_widens_the_figure_instead_of_being_cut() {
        let curve = |name: &str| FigureCurve {
            name: name.into(),
            colour: "#1f77b4".into(),
            points: vec![(0.0, 1.0), (1.0, 0.0)],
            eer: Some(0.25),
        };
        let long = "Nearest neighbour (Mahalanobis), template update";
        let width = |svg: String| -> f64 {
            svg.split("width=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|w| w.parse().ok())
                .unwrap()
        };
        assert_eq!(width(figure_svg("t", &[curve("short")], false)), 640.0);
        let width = width(figure_svg("t", &[curve("short"), curve(long)], false));
        // The entry starts 36 px right of the plot (70 + 400) and needs ~6.5 px a character.
        let entry = format!("{long} (EER 0.250)").chars().count() as f64;
        assert!(
            width >= 506.0 + 6.0 * entry,
            "{width} for {entry} characters"
        );
    }
}
