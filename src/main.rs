//! `keystroke-workbench`: the command line, and the desktop workbench when run without one.

use std::process::ExitCode;

use clap::Parser;
use keystroke_workbench::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let args = Cli::parse();
    let command = match args.command {
        Some(command) => command,
        None => match default_command() {
            Some(command) => command,
            None => return ExitCode::from(2),
        },
    };
    match cli::run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// With no command: the workbench window, or where none can open, how to go on instead.
#[cfg(feature = "gui")]
fn default_command() -> Option<Command> {
    if keystroke_workbench::gui::display_available() {
        Some(Command::Workbench(cli::WorkbenchArgs::default()))
    } else {
        eprintln!("{}", cli::NO_DISPLAY);
        None
    }
}

#[cfg(not(feature = "gui"))]
fn default_command() -> Option<Command> {
    eprintln!(
        "this build has no desktop workbench (built without the `gui` feature). Use:\n  \
         keystroke-workbench serve    serve the HTTP API\n  \
         keystroke-workbench eval     evaluate detectors on the CMU benchmark"
    );
    None
}
