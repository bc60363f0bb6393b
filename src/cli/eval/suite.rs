//! `eval --suite`: every bundled data set × N ∈ {5, full} × every detector, template update at
//! N = 5, written as one Markdown report (`docs/detectors.md`). Nothing in the report is typed
//! by hand: rerun the command after changing a detector.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use super::{DetectorReport, evaluate, format};
use keystroke_core::detect::{
    COHORT_SAMPLES, DEFAULT_DETECTOR, DEFAULT_WINDOW, DetectorKind, IsolationForestParams,
    SecurityLevel, UPDATE_GUARD_PERCENT,
};
use keystroke_core::eval::{BUNDLED, BundledSet, Cohort, Dataset, IMPOSTOR_REPS, Protocol};

/// The product's enrolment count.
const FEW: usize = 5;

/// One bundled set's results.
struct SetResults {
    set: BundledSet,
    data: Dataset,
    few: Vec<DetectorReport>,
    full: Vec<DetectorReport>,
    /// The default detector at N = 5 with template update, for each cohort of [`COHORTS`].
    updated: Vec<Vec<DetectorReport>>,
}

/// The update guard's cohorts the suite compares: the product's first.
const COHORTS: [Cohort; 3] = [Cohort::Others, Cohort::Half, Cohort::None];

/// Runs the suite, writes the report to `path` and a summary to `out`.
pub fn run(path: &Path, seeds: &[u64], threads: usize, out: &mut impl Write) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut results = Vec::new();
    for set in BUNDLED {
        let data = set.load()?;
        let all = DetectorKind::ALL;
        let run = |train, protocol: Protocol, kinds: &[DetectorKind]| {
            evaluate(&data, &protocol, kinds, seeds, threads)
                .with_context(|| format!("{} at N = {train}", set.id))
        };
        let few = run(FEW, set.protocol(FEW, None), all)?;
        let full = run(set.full_train, set.protocol(set.full_train, None), all)?;
        let updated = COHORTS
            .iter()
            .map(|&cohort| {
                let mut protocol = set.protocol(FEW, Some(DEFAULT_WINDOW));
                if let Some(update) = &mut protocol.update {
                    update.cohort = cohort;
                }
                run(FEW, protocol, &[DEFAULT_DETECTOR])
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        results.push(SetResults {
            set,
            data,
            few,
            full,
            updated,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut text = Vec::new();
    write_report(&mut text, &results, seeds)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        out,
        "{} data sets × N ∈ {{5, full}} × {} detectors evaluated in {seconds:.1} s; wrote {}",
        results.len(),
        DetectorKind::ALL.len(),
        path.display()
    )?;
    for r in &results {
        let best = |reports: &[DetectorReport]| {
            reports
                .iter()
                .min_by(|a, b| a.result.eer_mean.total_cmp(&b.result.eer_mean))
                .map(|d| format!("{} {:.4}", d.result.name, d.result.eer_mean))
                .unwrap_or_default()
        };
        writeln!(
            out,
            "  {}: best at N = 5: {}; at N = {}: {}",
            r.set.id,
            best(&r.few),
            r.set.full_train,
            best(&r.full)
        )?;
    }
    Ok(())
}

fn eer_of(reports: &[DetectorReport], kind: DetectorKind) -> Option<f64> {
    reports
        .iter()
        .find(|d| d.result.name == kind.id())
        .map(|d| d.result.eer_mean)
}

/// The default detector's mean EER in each column beside the column's best and the isolation
/// forest's (the old default).
fn write_default_against_best(out: &mut impl Write, results: &[SetResults]) -> std::io::Result<()> {
    let forest = DetectorKind::of::<IsolationForestParams>();
    writeln!(out, "## The default against the best")?;
    writeln!(out)?;
    writeln!(
        out,
        "The default is the sum of two detectors' scores, the tempo-tolerant Manhattan's and the \
         outlier count's, each normalised per user by its leave-one-out scores on the user's own \
         samples, with equal weights: equal weights tune nothing on any set, and the two parts \
         keep their own constants (`crates/keystroke-core/src/detect/fusion.rs`). Each row: the \
         default's mean EER, the best detector's, and the isolation forest's (the default before)."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| set | N | default | best | best EER | default − best | isolation forest |"
    )?;
    writeln!(out, "|---|---:|---:|---|---:|---:|---:|")?;
    for r in results {
        for (n, reports) in [(FEW, &r.few), (r.set.full_train, &r.full)] {
            let best = reports
                .iter()
                .min_by(|a, b| a.result.eer_mean.total_cmp(&b.result.eer_mean));
            let (Some(default), Some(best), Some(forest)) = (
                eer_of(reports, DEFAULT_DETECTOR),
                best,
                eer_of(reports, forest),
            ) else {
                continue;
            };
            writeln!(
                out,
                "| `{}` | {n} | {default:.4} | {} | {:.4} | {:+.4} | {forest:.4} |",
                r.set.id,
                best.result.name,
                best.result.eer_mean,
                default - best.result.eer_mean
            )?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The default detector's false-accept and false-reject rates at each security level.
fn write_security_levels(out: &mut impl Write, results: &[SetResults]) -> std::io::Result<()> {
    writeln!(out, "## Security levels")?;
    writeln!(out)?;
    writeln!(
        out,
        "The default detector's mean false-accept and false-reject rates (FAR / FRR) at each \
         level (`serve --security`, `KW_SECURITY`): a user's threshold is the given percentile \
         of the user's own held-out scores, learnt from the genuine user alone. The last column \
         is |FAR − FRR| at `balanced`, the default."
    )?;
    writeln!(out)?;
    write!(out, "| set | N |")?;
    for level in SecurityLevel::ALL {
        write!(out, " `{level}` ({}th) |", level.percent())?;
    }
    writeln!(out, " \\|FAR − FRR\\| at `balanced` |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for r in results {
        for (n, reports) in [(FEW, &r.few), (r.set.full_train, &r.full)] {
            let Some(levels) = reports
                .iter()
                .find(|d| d.result.name == DEFAULT_DETECTOR.id())
                .and_then(|d| d.result.levels_mean.as_ref())
            else {
                continue;
            };
            write!(out, "| `{}` | {n} |", r.set.id)?;
            for rates in levels {
                write!(out, " {:.3} / {:.3} |", rates.far, rates.frr)?;
            }
            let balanced = levels
                .iter()
                .find(|l| l.level == SecurityLevel::Balanced)
                .map_or(f64::NAN, |l| (l.far - l.frr).abs());
            writeln!(out, " {balanced:.3} |")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

fn write_template_update(out: &mut impl Write, results: &[SetResults]) -> std::io::Result<()> {
    writeln!(out, "## Template update")?;
    writeln!(out)?;
    writeln!(
        out,
        "The default detector at N = 5, then the repetitions before the genuine test offered to \
         its template (window {DEFAULT_WINDOW}). An attempt is taken when it reaches the guard \
         (the {UPDATE_GUARD_PERCENT}th percentile of the template rows' held-out scores) and, \
         with a cohort, scores at or above every cohort sample: repetitions {}–{} of every other \
         subject (`others`, the product's rule: every other user enrolled on the phrase), or of \
         every second other subject, the probing impostors being the rest (`half`: impostors \
         the cohort has not seen); `none` is the percentile guard alone. Each cell: mean EER / \
         updates taken / impostor probes past the guard.",
        2 * IMPOSTOR_REPS + 1,
        2 * IMPOSTOR_REPS + COHORT_SAMPLES
    )?;
    writeln!(out)?;
    write!(out, "| set | no update |")?;
    for cohort in COHORTS {
        write!(out, " cohort `{}` |", cohort.id())?;
    }
    writeln!(out)?;
    writeln!(out, "|---|---:|{}", "---:|".repeat(COHORTS.len()))?;
    for r in results {
        let without = eer_of(&r.few, DEFAULT_DETECTOR).unwrap_or(f64::NAN);
        write!(out, "| `{}` | {without:.4} |", r.set.id)?;
        for reports in &r.updated {
            match reports.first() {
                Some(d) => write!(
                    out,
                    " {:.4} / {:.1} % / {:.2} % |",
                    d.result.eer_mean,
                    100.0 * d.result.updates_taken_mean,
                    100.0 * d.result.impostor_updates_mean
                )?,
                None => write!(out, " |")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_report(
    out: &mut impl Write,
    results: &[SetResults],
    seeds: &[u64],
) -> std::io::Result<()> {
    writeln!(out, "# Detectors across the development data sets")?;
    writeln!(out)?;
    writeln!(
        out,
        "Written by `keystroke-workbench eval --suite` (release build: `cargo run --release -- eval --suite`); \
         nothing here is typed by hand. Randomised detectors use seed(s) {seeds:?}. The product's \
         default detector is marked \"(default)\"."
    )?;
    writeln!(out)?;
    writeln!(out, "## The data sets and the protocol")?;
    writeln!(out)?;
    writeln!(
        out,
        "Per subject: train on repetitions 1–N; the genuine test is every repetition after the \
         full enrolment (the same samples at N = 5 and at full N); the impostor test is \
         repetitions 1–5 of every other subject. EER is computed as Killourhy & Maxion's ROCR \
         script does and averaged over subjects. Each set's README (under `sample_sessions/`) \
         gives its source and citation."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| set | what | subjects | reps each | full N | genuine test | impostor samples per subject |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---|---:|")?;
    for r in results {
        let reps = r
            .data
            .subjects
            .iter()
            .map(|s| s.samples_ms.nrows())
            .min()
            .unwrap_or(0);
        writeln!(
            out,
            "| `{}` | {} | {} | {reps} | {} | reps {}–{reps} | {} |",
            r.set.id,
            r.set.title,
            r.data.subjects.len(),
            r.set.full_train,
            r.set.full_train + 1,
            IMPOSTOR_REPS * (r.data.subjects.len() - 1)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Columns:")?;
    writeln!(
        out,
        "- **EER**: equal-error rate. **FRR @ FAR x**: the share of genuine attempts rejected where at \
         most x of the impostor attempts are accepted; where x is below one impostor sample it equals \
         **zero-miss FAR** (Killourhy & Maxion's \"zero-miss false-alarm rate\")."
    )?;
    writeln!(
        out,
        "- **FRR / FAR at threshold**: the rates at the threshold the product uses for that detector \
         (at the default security level, `balanced`; the isolation forest's is scikit-learn's)."
    )?;
    writeln!(
        out,
        "- **updates taken**: the share of the repetitions between enrolment and test that the template \
         update took; **impostor probes past the guard**: the share of impostor attempts (repetitions \
         6–10 of other subjects, offered after each genuine one and never stored) that would have been \
         taken."
    )?;
    writeln!(out)?;
    writeln!(out, "## Mean EER, every set")?;
    writeln!(out)?;
    write!(out, "| detector |")?;
    for r in results {
        write!(
            out,
            " `{}` N = 5 | `{}` N = {} |",
            r.set.id, r.set.id, r.set.full_train
        )?;
    }
    writeln!(out)?;
    writeln!(out, "|---|{}", "---:|".repeat(2 * results.len()))?;
    for kind in DetectorKind::ALL {
        let marker = if *kind == DEFAULT_DETECTOR {
            " (default)"
        } else {
            ""
        };
        write!(out, "| {}{marker} |", kind.label())?;
        for r in results {
            for reports in [&r.few, &r.full] {
                let eer = eer_of(reports, *kind).unwrap_or(f64::NAN);
                let best = reports
                    .iter()
                    .map(|d| d.result.eer_mean)
                    .fold(f64::INFINITY, f64::min);
                if eer == best {
                    write!(out, " **{eer:.4}** |")?;
                } else {
                    write!(out, " {eer:.4} |")?;
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    writeln!(out, "The best of each column is in bold.")?;
    writeln!(out)?;
    write_default_against_best(out, results)?;
    write_security_levels(out, results)?;
    write_template_update(out, results)?;
    for r in results {
        writeln!(out, "## `{}`: {}", r.set.id, r.set.title)?;
        writeln!(out)?;
        for (n, reports) in [(FEW, &r.few), (r.set.full_train, &r.full)] {
            writeln!(
                out,
                "N = {n}: `keystroke-workbench eval --set {} --train-samples {n} --markdown`",
                r.set.id
            )?;
            writeln!(out)?;
            format::markdown(out, reports, false)?;
            writeln!(out)?;
        }
        for (cohort, reports) in COHORTS.iter().zip(&r.updated) {
            writeln!(
                out,
                "N = 5, then template update (window {DEFAULT_WINDOW}, cohort `{}`): \
                 `keystroke-workbench eval --set {} --train-samples 5 --protocol update --detector {} \
                 --cohort {} --markdown`",
                cohort.id(),
                r.set.id,
                DEFAULT_DETECTOR.id(),
                cohort.id()
            )?;
            writeln!(out)?;
            format::markdown(out, reports, true)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
