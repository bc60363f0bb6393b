//! `keystroke-workbench samples USER`: a user's sample table (timings, consistency, outliers,
//! exclusions), and `--exclude N` / `--restore N` to take a mistaken sample out of use or put
//! it back, under the user's lock — the workbench's Exclude and Undo, from a script.

use std::io::Write;

use anyhow::bail;
use chrono::Local;
use clap::Args;

use super::sessions::StoreArgs;
use keystroke_core::auth::{DEFAULT_MIN_SAMPLES, MIN_CONSISTENCY, sample_table};
use keystroke_core::store::UserId;

/// Arguments of `samples`.
#[derive(Debug, Clone, Args)]
pub struct SamplesArgs {
    /// The user whose samples to list or change
    pub user: String,
    /// The store holding the user.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Take sample N (as numbered in the list) out of use: it stays stored, is not trained on,
    /// counted or exported, and `--restore N` undoes it. Repeatable
    #[arg(long, value_name = "N")]
    pub exclude: Vec<usize>,
    /// Put excluded sample N back in use. Repeatable
    #[arg(long, value_name = "N")]
    pub restore: Vec<usize>,
    /// Samples in use a model needs: below it the model is dropped until there are enough
    #[arg(
        long,
        value_name = "N",
        env = "KW_MIN_SAMPLES",
        default_value_t = DEFAULT_MIN_SAMPLES
    )]
    pub min_samples: usize,
}

/// Runs `samples`: applies the exclusions, then the restorations (the model is retrained after
/// each with the user's detector, or dropped below `--min-samples`), then prints the table.
pub fn run(args: &SamplesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let user = UserId::parse(&args.user)?;
    let dir = &args.store.models;
    if !dir.is_dir() {
        bail!("no model store at {}", dir.display());
    }
    let store = args.store.open()?;
    if args.exclude.iter().chain(&args.restore).any(|&n| n == 0) {
        bail!("samples are numbered from 1");
    }
    if let Some(n) = args.exclude.iter().find(|n| args.restore.contains(n)) {
        bail!("sample {n} is both to be excluded and restored");
    }
    // Exclusions first, then restorations, each committed (and the model retrained) in turn.
    let changes = args
        .exclude
        .iter()
        .map(|&n| (n, true))
        .chain(args.restore.iter().map(|&n| (n, false)));
    for (number, excluded) in changes {
        let (metadata, changed) = store.with_user(&user, |w| {
            w.set_excluded(
                number - 1,
                excluded,
                None,
                args.min_samples,
                Local::now().naive_local(),
            )
        })?;
        let done = match (changed, excluded) {
            (false, true) => "was already excluded",
            (false, false) => "was already in use",
            (true, true) => "excluded",
            (true, false) => "restored",
        };
        writeln!(
            out,
            "{user}: sample {number} {done}; {}",
            metadata.model_summary(args.min_samples)
        )?;
    }
    let Some((metadata, rows)) = sample_table(&store, &user)? else {
        bail!("{user} has no samples in {}", dir.display());
    };
    writeln!(
        out,
        "{user}: {} samples, {} in use, {}",
        metadata.samples,
        metadata.active_samples(),
        metadata
            .trained_detector()
            .map_or("no model".to_string(), |d| format!("model {d}"))
    )?;
    writeln!(
        out,
        "{:>5}  {:<26}  {:<12}  {:<8}  {:>8}  {:>8}  {:>8}  {:>11}  state",
        "#", "added", "session", "source", "hold ms", "dd ms", "ud ms", "consistency"
    )?;
    for row in rows {
        let consistency = row.consistency.map_or("-".into(), |c| format!("{c:.2}"));
        let mut state = Vec::new();
        if row.excluded {
            state.push("excluded".to_string());
        }
        if row.outlier {
            state.push(format!("unlike the others (< {MIN_CONSISTENCY})"));
        }
        let [hold, down_down, up_down] = row.means_ms;
        let line = format!(
            "{:>5}  {:<26}  {:<12}  {:<8}  {hold:>8.1}  {down_down:>8.1}  {up_down:>8.1}  {consistency:>11}  {}",
            row.number,
            row.added_at.to_string(),
            row.session.as_deref().unwrap_or("-"),
            row.source,
            state.join(", ")
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
