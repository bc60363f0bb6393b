//! `store check [--repair]`: verifies (and repairs) every file of every user in a model store.

use std::io::Write;

use anyhow::bail;
use chrono::Local;
use clap::{Args, Subcommand};

use super::sessions::StoreArgs;
use keystroke_core::store::{CheckReport, Severity};

/// Arguments of `store`.
#[derive(Debug, Clone, Args)]
pub struct StoreCommandArgs {
    /// What to do with the store
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// The `store` commands.
#[derive(Debug, Clone, Subcommand)]
pub enum StoreCommand {
    /// Read every file of every user; report each problem with its user and file. Exits with
    /// status 1 when committed data is damaged (and was not repaired).
    Check(CheckArgs),
}

/// Arguments of `store check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The store to check.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Truncate torn tails back to the last committed sample, remove temporary files of
    /// interrupted writes, and move what cannot be read into quarantine/<date>/ (never deleting it)
    #[arg(long)]
    pub repair: bool,
}

/// Runs a `store` command.
pub fn run(args: &StoreCommandArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.command {
        StoreCommand::Check(check) => run_check(check, out),
    }
}

fn run_check(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = args.store.open()?;
    let report = store.check(args.repair, Local::now().naive_local())?;
    print_report(&report, out)?;
    let damaged = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Damage)
        .count();
    if args.repair {
        writeln!(out, "repaired: {} actions", report.repairs.len())?;
    } else if damaged > 0 {
        bail!(
            "{damaged} damaged files in {}: run `keystroke-workbench store check --repair --models {}`",
            store.dir().display(),
            store.dir().display()
        );
    }
    Ok(())
}

fn print_report(report: &CheckReport, out: &mut dyn Write) -> std::io::Result<()> {
    for finding in &report.findings {
        let kind = match finding.severity {
            Severity::Damage => "damaged",
            Severity::Uncommitted => "uncommitted (harmless)",
        };
        let user = finding
            .user
            .as_ref()
            .map_or("no user".to_string(), |u| format!("user '{u}'"));
        writeln!(
            out,
            "{kind}: {user}: {}: {}",
            finding.file.display(),
            finding.message
        )?;
    }
    for repair in &report.repairs {
        writeln!(out, "repair: {repair}")?;
    }
    let verdict = if report.is_clean() {
        "clean"
    } else {
        "DAMAGED"
    };
    writeln!(
        out,
        "{verdict}: {} users checked, {} findings",
        report.users,
        report.findings.len()
    )
}
