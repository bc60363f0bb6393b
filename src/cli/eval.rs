//! `keystroke-workbench eval`: the Killourhy & Maxion protocol on the CMU benchmark, as a table
//! or one JSON object.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::detect::DetectorKind;
use crate::eval::{Dataset, DetectorResult, Evaluation, Protocol, load_cmu, locate_cmu};
use crate::workers::{default_threads, parallel_map};

/// Arguments of `eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The benchmark CSV (default: the bundled sample_sessions/cmu/DSL-StrongPasswordData.csv).
    #[arg(long, value_name = "PATH")]
    pub cmu: Option<PathBuf>,
    /// Detector to evaluate, or `all`: isolation-forest, manhattan-scaled, nn-mahalanobis,
    /// outlier-count, mahalanobis, manhattan, euclidean.
    #[arg(long, value_name = "NAME|all", default_value = "all")]
    pub detector: String,
    /// Average randomised detectors over seeds 0..K−1.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// Train on the first N repetitions only (1–200; the product enrols with 5).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub train_samples: u16,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// The JSON output of `eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Always `"cmu"`.
    pub dataset: &'static str,
    /// Number of subjects.
    pub subjects: usize,
    /// Training samples per subject.
    pub train_samples: usize,
    /// Seeds averaged over (randomised detectors).
    pub seeds: u64,
    /// One entry per detector.
    pub detectors: Vec<DetectorReport>,
}

/// One detector's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorReport {
    /// Detector id.
    pub name: String,
    /// Name in the literature.
    pub label: &'static str,
    /// Mean EER over subjects.
    pub eer_mean: f64,
    /// Standard deviation of the per-subject EERs.
    pub eer_sd: f64,
    /// Mean zero-miss false-alarm rate.
    pub zero_miss_far_mean: f64,
    /// Wall time of the evaluation (all seeds), excluding loading the data.
    pub seconds: f64,
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

/// Runs `eval`, writing the table or JSON to `out`.
pub fn run(args: &EvalArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let kinds = detectors(&args.detector)?;
    let path = locate_cmu(args.cmu.as_deref())?;
    let data = load_cmu(&path)?;
    let report = evaluate(&data, &kinds, args)?;
    if args.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_table(out, &report)?;
    }
    Ok(())
}

fn evaluate(data: &Dataset, kinds: &[DetectorKind], args: &EvalArgs) -> anyhow::Result<EvalReport> {
    let protocol = Protocol::cmu(usize::from(args.train_samples));
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let progress = progress_bar((data.subjects.len() * kinds.len()) as u64);
    let mut detectors = Vec::new();
    for &kind in kinds {
        progress.set_message(kind.id());
        let evaluation = Evaluation::new(
            data,
            protocol.clone(),
            kind.default_params().for_ranking(),
            &seeds,
        )?;
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
        let DetectorResult {
            name,
            eer_mean,
            eer_sd,
            zero_miss_far_mean,
            ..
        } = evaluation.summarise(results);
        detectors.push(DetectorReport {
            name,
            label: kind.label(),
            eer_mean,
            eer_sd,
            zero_miss_far_mean,
            seconds,
        });
    }
    progress.finish_and_clear();
    Ok(EvalReport {
        dataset: "cmu",
        subjects: data.subjects.len(),
        train_samples: protocol.train.len(),
        seeds: args.seeds,
        detectors,
    })
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

fn write_table(out: &mut impl Write, report: &EvalReport) -> std::io::Result<()> {
    writeln!(
        out,
        "CMU benchmark: {} subjects; train on reps 1–{}, genuine = reps 201–400, \
         impostors = first 5 reps of each other subject; randomised detectors over {} seed(s)",
        report.subjects, report.train_samples, report.seeds
    )?;
    writeln!(
        out,
        "{:<34} {:>8} {:>8} {:>14} {:>9}",
        "detector", "EER mean", "EER sd", "zero-miss FAR", "seconds"
    )?;
    for d in &report.detectors {
        writeln!(
            out,
            "{:<34} {:>8.4} {:>8.4} {:>14.4} {:>9.3}",
            d.label, d.eer_mean, d.eer_sd, d.zero_miss_far_mean, d.seconds
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_means_every_detector() {
        assert_eq!(detectors("all").unwrap().len(), DetectorKind::ALL.len());
        assert_eq!(detectors("euclidean").unwrap(), [DetectorKind::Euclidean]);
        assert!(detectors("svm").is_err());
    }
}
