//! The command line: argument definitions and the commands behind them.

mod eval;

use clap::{Parser, Subcommand};

pub use eval::{EvalArgs, EvalReport};

/// Keystroke Workbench: keystroke-dynamics authentication research and serving.
#[derive(Debug, Parser)]
#[command(name = "keystroke-workbench", version, about, long_about = None)]
pub struct Cli {
    /// What to do; with none, the desktop workbench opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate detectors on the CMU keystroke benchmark (Killourhy & Maxion 2009 protocol).
    Eval(EvalArgs),
}

/// Runs a command, writing its output to standard output.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Eval(args) => eval::run(&args, &mut std::io::stdout().lock()),
    }
}
