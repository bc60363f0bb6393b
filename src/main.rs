use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use keystroke_workbench::cli::{self, Cli};

fn main() -> ExitCode {
    let args = Cli::parse();
    let Some(command) = args.command else {
        println!("GUI arrives with the workbench issue. Meanwhile, the command line:\n");
        Cli::command().print_help().ok();
        return ExitCode::SUCCESS;
    };
    match cli::run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
