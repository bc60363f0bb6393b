//! The desktop research workbench (feature `gui`): live capture, timing plots, enrolment,
//! training and live imposter tests, the embedded server. A thin front-end over the core.

mod app;
mod capture;
mod command;
mod demo;
mod enrol;
mod evaluate;
mod exclude;
mod files;
mod gauge;
mod plots;
mod server_panel;
mod settings;
mod state;
mod testing;
mod watch;

pub use capture::{RawKey, Source};
pub use evaluate::det_tick_label;
pub use plots::Series;
pub use settings::Settings;
pub use state::{
    Command, EvalOutcome, EvalState, Kind as PlotKind, Options, Pending, Tab, UserView, Workbench,
};

/// The window title.
pub const TITLE: &str = "Keystroke Workbench";

/// Whether a display to open a window on is configured.
pub fn display_available() -> bool {
    cfg!(any(target_os = "windows", target_os = "macos"))
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

/// Opens the workbench window and runs until it is closed.
pub fn run(options: Options) -> anyhow::Result<()> {
    let workbench = Workbench::new(options)?;
    eprintln!("capture: {}", workbench.source().describe());
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_inner_size([1000.0, 760.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(TITLE, native, Box::new(|_cc| Ok(Box::new(workbench))))
        .map_err(|e| anyhow::anyhow!("the workbench window failed: {e}"))
}
