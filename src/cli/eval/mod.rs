//! `keystroke-workbench eval`: the Killourhy & Maxion protocol on a bundled data set, any CSV in
//! the CMU layout or a raw event file, as a table, Markdown or one JSON object; `eval --suite`
//! runs every bundled set and writes `docs/detectors.md`.

mod format;
mod source;
mod suite;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::workers::{default_threads, parallel_map};
use keystroke_core::detect::{DEFAULT_DETECTOR, DEFAULT_WINDOW, DetectorKind};
use keystroke_core::eval::{Cohort, Dataset, DetectorResult, Evaluation, Protocol};
pub use source::{DataArgs, TimeUnit};

/// Arguments of `eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Where the data comes from and the protocol.
    #[command(flatten)]
    pub data: DataArgs,
    /// Detector to evaluate, or `all`: fusion (the default), isolation-forest, tempo-tolerant,
    /// manhattan-scaled, nn-mahalanobis, outlier-count, mahalanobis, manhattan, euclidean.
    #[arg(long, value_name = "NAME|all", default_value = "all")]
    pub detector: String,
    /// Average randomised detectors over seeds 0..K−1.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// `km`: the paper's (train, then test). `update`: after training, the reps before the
    /// genuine test arrive in time order and each one the model scores well above its
    /// threshold updates the template (the training samples stay as an anchor), then test as
    /// the paper does.
    #[arg(long, value_name = "km|update", default_value = "km")]
    pub protocol: ProtocolChoice,
    /// Accepted attempts a template keeps under `--protocol update`.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WINDOW as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub window: u16,
    /// Under `--protocol update`: the percentile (0–100) of the template rows' held-out scores
    /// (the isolation forest: their own scores) an attempt must reach to be taken, instead of
    /// the product's guard (the 30th), to compare guards: a higher one takes fewer impostors
    /// and fewer genuine attempts. It must also be accepted, so a guard below the acceptance
    /// threshold is that threshold.
    #[arg(long, value_name = "P", value_parser = percentile)]
    pub guard_percentile: Option<f64>,
    /// Under `--protocol update`: whose typing the guard's cohort holds. `others` (the
    /// product's rule): samples 11–15 (with 5 impostor reps) of every other subject, as the
    /// product takes every other user enrolled on the phrase; an attempt must score at or
    /// above all of them. `half`: every second other subject's, the probes coming from the
    /// rest (impostors the cohort has never seen). `none`: the percentile guard alone.
    #[arg(long, value_name = "others|half|none", value_parser = clap::value_parser!(Cohort))]
    pub cohort: Option<Cohort>,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown table (as in docs/detectors.md).
    #[arg(long)]
    pub markdown: bool,
    /// Every bundled set × N ∈ {5, full} × every detector, and the default detector with
    /// template update at N = 5, written as Markdown to --out.
    #[arg(long, conflicts_with_all = ["json", "markdown", "set", "cmu", "data", "raw_events", "store", "train_samples", "genuine_from", "train_session", "detector", "guard_percentile", "cohort"])]
    pub suite: bool,
    /// Where `--suite` writes its report.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "docs/detectors.md",
        requires = "suite"
    )]
    pub out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// `eval --protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolChoice {
    /// Killourhy & Maxion: train, then test.
    Km,
    /// Train, update the template on the reps before the genuine test, then test.
    Update,
}

/// The JSON output of `eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The bundled set's id (`cmu`, `meu-mobile`, `keypad`) or the file's path.
    pub dataset: String,
    /// Number of subjects.
    pub subjects: usize,
    /// Training samples per subject (`null` when a whole session trains).
    pub train_samples: Option<usize>,
    /// The protocol.
    pub protocol: ProtocolChoice,
    /// How rows divide into training and test.
    pub split: keystroke_core::eval::Split,
    /// Impostor repetitions per other subject.
    pub impostor_reps: usize,
    /// Attempts a template keeps (`update` protocol only).
    pub window: Option<usize>,
    /// The update guard's percentile (`update` protocol only).
    pub guard_percentile: Option<f64>,
    /// Whose typing the update guard's cohort holds (`update` protocol only).
    pub cohort: Option<Cohort>,
    /// Seeds averaged over (randomised detectors).
    pub seeds: u64,
    /// Repetitions the loader left out, each with the reason.
    pub skipped: Vec<String>,
    /// One entry per detector.
    pub detectors: Vec<DetectorReport>,
}

/// One detector's line of the report: its rates (without the per-subject ones), its name in the
/// literature and the wall time.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorReport {
    /// Name in the literature.
    pub label: &'static str,
    /// Whether this is the product's default detector.
    pub default: bool,
    /// The rates.
    #[serde(flatten)]
    pub result: DetectorResult,
    /// Wall time of the evaluation (all seeds), excluding loading the data.
    pub seconds: f64,
}

/// A percentile, 0 to 100.
fn percentile(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a percentile from 0 to 100")),
    }
}

fn detectors(choice: &str) -> anyhow::Result<Vec<DetectorKind>> {
    if choice == "all" {
        return Ok(DetectorKind::ALL.to_vec());
    }
    choice
        .parse::<DetectorKind>()
        .map(|k| vec![k])
        .map_err(anyhow::Error::msg)
}

/// Runs `eval`, writing the table, Markdown or JSON to `out`.
pub fn run(args: &EvalArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let seeds: Vec<u64> = (0..args.seeds).collect();
    if args.suite {
        return suite::run(&args.out, &seeds, threads, out);
    }
    let kinds = detectors(&args.detector)?;
    let window = (args.protocol == ProtocolChoice::Update).then_some(usize::from(args.window));
    if window.is_none() && args.guard_percentile.is_some() {
        anyhow::bail!("--guard-percentile applies to --protocol update only");
    }
    if window.is_none() && args.cohort.is_some() {
        anyhow::bail!("--cohort applies to --protocol update only");
    }
    let mut source = args.data.load(window)?;
    if let Some(update) = &mut source.protocol.update {
        update.guard_percent = args.guard_percentile.unwrap_or(update.guard_percent);
        update.cohort = args.cohort.unwrap_or(update.cohort);
    }
    let guard_percentile = source.protocol.update.as_ref().map(|u| u.guard_percent);
    let cohort = source.protocol.update.as_ref().map(|u| u.cohort);
    let detectors = evaluate(&source.data, &source.protocol, &kinds, &seeds, threads)?;
    let report = EvalReport {
        dataset: source.name.clone(),
        subjects: source.data.subjects.len(),
        train_samples: source.protocol.train_samples(),
        protocol: args.protocol,
        split: source.protocol.split.clone(),
        impostor_reps: source.protocol.impostor_rows,
        window,
        guard_percentile,
        cohort,
        seeds: args.seeds,
        skipped: source.data.skipped.clone(),
        detectors,
    };
    if args.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else if args.markdown {
        format::markdown(out, &report.detectors, window.is_some())?;
    } else {
        writeln!(out, "{}", source::describe(&source))?;
        if !report.skipped.is_empty() {
            writeln!(
                out,
                "{} repetition(s) left out; the first: {}",
                report.skipped.len(),
                report.skipped[0]
            )?;
        }
        format::table(out, &report.detectors, window.is_some())?;
    }
    Ok(())
}

/// Evaluates each detector with its product parameters (not `for_ranking`: the threshold
/// columns are the product's), spreading the subjects over `threads`.
fn evaluate(
    data: &Dataset,
    protocol: &Protocol,
    kinds: &[DetectorKind],
    seeds: &[u64],
    threads: usize,
) -> anyhow::Result<Vec<DetectorReport>> {
    let progress = progress_bar((data.subjects.len() * kinds.len()) as u64);
    let mut detectors = Vec::new();
    for &kind in kinds {
        progress.set_message(kind.id());
        let evaluation = Evaluation::new(data, protocol.clone(), kind.default_params(), seeds)?;
        let started = Instant::now();
        let results = parallel_map(evaluation.n_subjects(), threads, "eval", |i| {
            let result = evaluation.run_subject(i);
            progress.inc(1);
            result
        });
        let seconds = started.elapsed().as_secs_f64();
        let results = results
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("evaluating {kind}"))?;
        detectors.push(DetectorReport {
            label: kind.label(),
            default: kind == DEFAULT_DETECTOR,
            result: evaluation.summarise(results),
            seconds,
        });
    }
    progress.finish_and_clear();
    Ok(detectors)
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} subjects · {msg} · {elapsed}")
        .expect("the template is valid");
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_means_every_detector() {
        assert_eq!(detectors("all").unwrap().len(), DetectorKind::ALL.len());
        assert_eq!(
            detectors("euclidean").unwrap(),
            [DetectorKind::of::<keystroke_core::detect::Euclidean>()]
        );
        assert!(detectors("svm").is_err());
    }
}
