//! `keystroke-workbench` (no command) or `keystroke-workbench workbench`: the desktop window.

use std::path::PathBuf;

use clap::Args;

use crate::gui::{self, Options, Settings};

/// What to say where no window can open.
pub const NO_DISPLAY: &str = "no display to open the workbench on (neither DISPLAY nor \
WAYLAND_DISPLAY is set). Without a desktop, use the command line:\n  \
keystroke-workbench serve    serve the HTTP API (see --help)\n  \
keystroke-workbench eval     evaluate detectors on the CMU benchmark";

/// Arguments of `workbench`.
#[derive(Debug, Clone, Default, Args)]
pub struct WorkbenchArgs {
    /// Model store folder (default: the one used last, else user_models)
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Select this user at start
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Arm capture at start
    #[arg(long)]
    pub arm: bool,
    /// Use only the window's own key events (no global listener)
    #[arg(long)]
    pub window_capture: bool,
    /// Tab to open on: enrol, timings, test, evaluate, server, files
    #[arg(long, value_name = "TAB")]
    pub tab: Option<gui::Tab>,
    /// Start in live-test mode
    #[arg(long)]
    pub live_test: bool,
    /// Start the embedded server (host and port from the settings)
    #[arg(long)]
    pub serve: bool,
}

/// Opens the workbench window.
pub fn run(args: &WorkbenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(gui::display_available(), "{NO_DISPLAY}");
    let settings_path = Settings::default_path();
    let (mut settings, warning) = settings_path
        .as_deref()
        .map_or((Settings::default(), None), Settings::load);
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    if let Some(models) = &args.models {
        settings.store_dir = models.clone();
    }
    if let Some(user) = &args.user {
        settings.last_user = Some(user.clone());
    }
    gui::run(Options {
        settings,
        settings_path,
        global_capture: !args.window_capture,
        arm: args.arm,
        tab: args.tab,
        live_test: args.live_test,
        serve: args.serve,
    })
}
