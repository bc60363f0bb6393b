//! `keystroke-workbench eval`: the Killourhy & Maxion protocol on the CMU benchmark, as a table
//! or one JSON object.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::workers::{default_threads, parallel_map};
use keystroke_core::detect::{DEFAULT_WINDOW, DetectorKind};
use keystroke_core::eval::{Dataset, DetectorResult, Evaluation, Protocol, load_cmu, locate_cmu};

/// Arguments of `eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The benchmark CSV (default: the bundled sample_sessions/cmu/DSL-StrongPasswordData.csv).
    #[arg(long, value_name = "PATH")]
    pub cmu: Option<PathBuf>,
    /// Detector to evaluate, or `all`: isolation-forest, tempo-tolerant, manhattan-scaled,
    /// nn-mahalanobis, outlier-count, mahalanobis, manhattan, euclidean.
    #[arg(long, value_name = "NAME|all", default_value = "all")]
    pub detector: String,
    /// Average randomised detectors over seeds 0..K−1.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// Train on the first N repetitions only (1–200; the product enrols with 5).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub train_samples: u16,
    /// `km`: the paper's (train, then test). `update`: after training, reps N+1–200 arrive in
    /// time order and each one the model scores well above its threshold updates the template
    /// (the training samples stay as an anchor), then test as the paper does.
    #[arg(long, value_name = "km|update", default_value = "km")]
    pub protocol: ProtocolChoice,
    /// Accepted attempts a template keeps under `--protocol update`.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WINDOW as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub window: u16,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown table (as in docs/detectors.md).
    #[arg(long)]
    pub markdown: bool,
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
    /// Train, update the template on the rest of reps 1–200, then test.
    Update,
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
    /// The protocol.
    pub protocol: ProtocolChoice,
    /// Attempts a template keeps (`update` protocol only).
    pub window: Option<usize>,
    /// Seeds averaged over (randomised detectors).
    pub seeds: u64,
    /// One entry per detector.
    pub detectors: Vec<DetectorReport>,
}

/// One detector's line of the report: its rates (without the per-subject ones), its name in the
/// literature and the wall time.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorReport {
    /// Name in the literature.
    pub label: &'static str,
    /// The rates.
    #[serde(flatten)]
    pub result: DetectorResult,
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
    } else if args.markdown {
        write_markdown(out, &report)?;
    } else {
        write_table(out, &report)?;
    }
    Ok(())
}

fn evaluate(data: &Dataset, kinds: &[DetectorKind], args: &EvalArgs) -> anyhow::Result<EvalReport> {
    let train = usize::from(args.train_samples);
    let protocol = match args.protocol {
        ProtocolChoice::Km => Protocol::cmu(train),
        ProtocolChoice::Update => Protocol::cmu_with_update(train, usize::from(args.window)),
    };
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let progress = progress_bar((data.subjects.len() * kinds.len()) as u64);
    let mut detectors = Vec::new();
    for &kind in kinds {
        progress.set_message(kind.id());
        // The product's parameters (not `for_ranking`): the threshold columns are the product's.
        let evaluation = Evaluation::new(data, protocol.clone(), kind.default_params(), &seeds)?;
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
            result: evaluation.summarise(results),
            seconds,
        });
    }
    progress.finish_and_clear();
    Ok(EvalReport {
        dataset: "cmu",
        subjects: data.subjects.len(),
        train_samples: protocol.train.len(),
        protocol: args.protocol,
        window: protocol.update.as_ref().map(|u| u.window),
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

/// Column headings (table, Markdown) and each report line's cells, shared by both formats.
fn columns(update: bool) -> Vec<(&'static str, &'static str)> {
    let mut columns = vec![
        ("EER", "EER"),
        ("EER sd", "EER sd"),
        ("FRR@FAR1%", "FRR @ FAR 1 %"),
        ("FRR@FAR0.1%", "FRR @ FAR 0.1 %"),
        ("zero-miss", "zero-miss FAR"),
        ("thr FRR", "FRR at threshold"),
        ("thr FAR", "FAR at threshold"),
    ];
    if update {
        columns.extend([
            ("updated", "updates taken"),
            ("imp. upd.", "impostor probes past the guard"),
        ]);
    }
    columns
}

fn cells(d: &DetectorReport, update: bool) -> Vec<String> {
    let r = &d.result;
    let mut cells: Vec<String> = [
        r.eer_mean,
        r.eer_sd,
        r.frr_at_far_1pc_mean,
        r.frr_at_far_01pc_mean,
        r.zero_miss_far_mean,
        r.threshold_frr_mean,
        r.threshold_far_mean,
    ]
    .iter()
    .map(|v| format!("{v:.4}"))
    .collect();
    if update {
        cells.push(format!("{:.3}", r.updates_taken_mean));
        cells.push(format!("{:.4}", r.impostor_updates_mean));
    }
    cells
}

fn write_markdown(out: &mut impl Write, report: &EvalReport) -> std::io::Result<()> {
    let update = report.window.is_some();
    let columns = columns(update);
    let headings: Vec<&str> = columns.iter().map(|c| c.1).collect();
    writeln!(out, "| detector | {} |", headings.join(" | "))?;
    writeln!(out, "|---|{}", "---:|".repeat(columns.len()))?;
    for d in &report.detectors {
        writeln!(out, "| {} | {} |", d.label, cells(d, update).join(" | "))?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, report: &EvalReport) -> std::io::Result<()> {
    let update = report.window.is_some();
    let phase = match report.window {
        Some(window) => format!(
            "; reps {}–200 update a template of {window} attempts",
            report.train_samples + 1
        ),
        None => String::new(),
    };
    writeln!(
        out,
        "CMU benchmark: {} subjects; train on reps 1–{}{phase}, genuine = reps 201–400, \
         impostors = first 5 reps of each other subject; randomised detectors over {} seed(s)",
        report.subjects, report.train_samples, report.seeds
    )?;
    let columns = columns(update);
    let widths: Vec<usize> = columns.iter().map(|c| c.0.len().max(7)).collect();
    write!(out, "{:<32}", "detector")?;
    for ((heading, _), width) in columns.iter().zip(&widths) {
        write!(out, " {heading:>width$}")?;
    }
    writeln!(out, " {:>8}", "seconds")?;
    for d in &report.detectors {
        write!(out, "{:<32}", d.label)?;
        for (cell, width) in cells(d, update).iter().zip(&widths) {
            write!(out, " {cell:>width$}")?;
        }
        writeln!(out, " {:>8.3}", d.seconds)?;
    }
    Ok(())
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
