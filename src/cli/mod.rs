//! The command line: argument definitions and the commands behind them.

mod delete;
mod eval;
mod samples;
mod serve;
mod sessions;
mod store;
mod tls;
mod verify;
#[cfg(feature = "gui")]
mod workbench;

use clap::{Parser, Subcommand};

pub use delete::DeleteArgs;
pub use eval::{DataArgs, EvalArgs, EvalReport, TimeUnit};
pub use samples::SamplesArgs;
pub use serve::{ServeArgs, ServeSettings};
pub use sessions::{CmuSessionsArgs, ExportArgs, ImportArgs, StoreArgs, TrainArgs};
pub use store::{CheckArgs, StoreCommand, StoreCommandArgs};
pub use tls::TlsCertArgs;
pub use verify::VerifyArgs;
#[cfg(feature = "gui")]
pub use workbench::{NO_DISPLAY, WorkbenchArgs};

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
    /// Evaluate detectors on a bundled data set, any CSV in the CMU layout or a raw event file
    /// (Killourhy & Maxion 2009 protocol); `--suite` writes docs/detectors.md.
    Eval(Box<EvalArgs>),
    /// Serve the HTTP API (`/health`, `/train`, `/predict`, `/user/{id}/info`) until Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Store the samples of session files (JSON, the API's event format) in a model store.
    Import(ImportArgs),
    /// Write a user's stored samples as a session file.
    Export(ExportArgs),
    /// Train a stored user's model.
    Train(TrainArgs),
    /// Judge the samples of a session file as login attempts by a stored user (the server's
    /// and the workbench's verification path).
    Verify(VerifyArgs),
    /// Delete a user's samples, model and lockout state from a store (asks for confirmation on
    /// a terminal; `--yes` otherwise).
    Delete(DeleteArgs),
    /// List a user's samples (timings, consistency, outliers); `--exclude N` takes a mistaken
    /// one out of use (kept, and undone by `--restore N`).
    Samples(SamplesArgs),
    /// Convert subjects of the CMU benchmark into session files.
    CmuSessions(CmuSessionsArgs),
    /// Make a self-signed certificate and key for `serve --tls-cert --tls-key` on a LAN.
    TlsCert(TlsCertArgs),
    /// Check (and repair) a model store: `store check [--repair]`.
    Store(StoreCommandArgs),
    /// Open the desktop workbench (what running with no command does).
    #[cfg(feature = "gui")]
    Workbench(WorkbenchArgs),
}

/// Runs a command, writing its output to standard output.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Eval(args) => eval::run(&args, &mut std::io::stdout().lock()),
        Command::Serve(args) => serve::run(&args),
        Command::Import(args) => sessions::import(&args, &mut std::io::stdout().lock()),
        Command::Export(args) => sessions::export(&args, &mut std::io::stdout().lock()),
        Command::Train(args) => sessions::train(&args, &mut std::io::stdout().lock()),
        Command::Verify(args) => verify::run(
            &args,
            chrono::Local::now().naive_local(),
            &mut std::io::stdout().lock(),
        ),
        Command::Delete(args) => delete::run_on_stdio(&args),
        Command::Samples(args) => samples::run(&args, &mut std::io::stdout().lock()),
        Command::CmuSessions(args) => sessions::cmu_sessions(&args, &mut std::io::stdout().lock()),
        Command::TlsCert(args) => tls::run(
            &args,
            chrono::Local::now().date_naive(),
            &mut std::io::stdout().lock(),
        ),
        Command::Store(args) => store::run(&args, &mut std::io::stdout().lock()),
        #[cfg(feature = "gui")]
        Command::Workbench(args) => workbench::run(&args),
    }
}
