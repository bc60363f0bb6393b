//! The one place the workbench does what the panels ask: a panel draws from the state and
//! pushes a [`Command`]; after the panels, [`Workbench::apply`] carries each out
//! and sets the status line from its outcome. Events that are not commands — a captured key, a
//! finished background job — come in through [`Workbench::on_key`] and [`Workbench::poll`],
//! which set the status line the same way.

use std::path::PathBuf;

use super::capture::RawKey;
use super::state::{Command, Workbench};
use keystroke_core::store::UserId;

/// A status line for the outcome of a command or event; `None` leaves the line as it is.
pub(super) type Status = Option<String>;

impl Workbench {
    /// Carries out `command` and shows its outcome on the status line.
    pub fn apply(&mut self, command: Command) {
        let status = match command {
            // Selecting the user already selected keeps their pending samples and demo.
            Command::SelectUser(user) if self.user.as_ref() == Some(&user) => None,
            Command::SelectUser(user) => self.select(user),
            Command::SelectTyped => match UserId::parse(self.user_input.trim()) {
                Ok(user) if self.user.as_ref() == Some(&user) => None,
                Ok(user) => self.select(user),
                Err(e) => Some(e.to_string()),
            },
            Command::Accept(index) => self.store_pending(index),
            Command::Discard(index) => self.drop_pending(index),
            Command::AcceptAll => self.store_all_pending(),
            Command::DiscardAll => {
                let n = std::mem::take(&mut self.pending).len();
                (n > 0).then(|| format!("{n} pending samples discarded"))
            }
            Command::Train => self.train(),
            Command::LiveTestToggled => {
                self.recorder.reset();
                None
            }
            Command::StartServer => self.serve(),
            Command::StopServer => self.unserve(),
            Command::NewEnrolmentCode => self.new_enrolment_code(),
            Command::OpenSession => self.open_session_file(),
            Command::SaveSession => self.save_session_file(),
            Command::ExportFeatures => self.export_features_file(),
            Command::Evaluate => self.evaluate(),
            Command::ExportFigure => self.export_figure(),
            Command::ExportTable => self.export_table(),
            Command::SaveSettings => self.save_settings(),
            Command::SetExcluded { number, excluded } => self.set_excluded(number, excluded),
            Command::Undo => self.undo_last(),
            Command::QueueLabels => self.queue_labels(),
            Command::ClearQueue => {
                let n = std::mem::take(&mut self.demo.queue).len();
                (n > 0).then(|| format!("{n} labels set in advance forgotten"))
            }
            Command::LabelDemoAttempt(index, label) => self.label_demo_attempt(index, label),
            Command::SaveDemo => self.save_demo(),
            Command::OpenDemo => self.open_demo(),
            Command::ExportDemo => self.export_demo(),
            Command::AskDelete => {
                self.confirm_delete = self.user.clone();
                None
            }
            Command::ConfirmDelete => self.delete_user(),
            Command::CancelDelete => self
                .confirm_delete
                .take()
                .map(|user| format!("{user} kept")),
        };
        self.show(status);
    }

    /// Handles one captured key event.
    pub fn on_key(&mut self, key: RawKey) {
        let status = self.key(key);
        self.show(status);
    }

    /// Collects what background jobs (training, evaluation) finished; each says so on the tab
    /// it was started from, whichever is shown.
    pub fn poll(&mut self) {
        let status = self.training_done();
        self.show_on(self.training_tab, status);
        let status = self.evaluation_done();
        self.show_on(super::state::Tab::Evaluate, status);
    }

    /// Applies the commands the panels pushed this frame.
    pub(super) fn apply_queued(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.apply(command);
        }
    }

    pub(super) fn show(&mut self, status: Status) {
        self.show_on(self.tab, status);
    }

    fn show_on(&mut self, tab: super::state::Tab, status: Status) {
        if let Some(text) = status {
            self.messages.insert(tab, text);
        }
    }

    /// Selects (or creates, on its first sample) a user.
    pub fn select_user(&mut self, user: UserId) {
        self.apply(Command::SelectUser(user));
    }

    /// Stores pending sample `index`.
    pub fn accept(&mut self, index: usize) {
        self.apply(Command::Accept(index));
    }

    /// Starts the embedded server on the configured host and port.
    pub fn start_server(&mut self) {
        self.apply(Command::StartServer);
    }
}

/// Refuses a path whose extension names another kind of file than `extension` (one typed
/// path serves several actions: a CSV export must not overwrite a saved `.json`).
pub(super) fn expect_extension(path: &std::path::Path, extension: &str) -> Result<(), String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(found) if !found.eq_ignore_ascii_case(extension) => Err(format!(
            "{} is a .{found} file: type a path ending in .{extension} for this",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// The path `typed` (on the Files or Demo tab), or else one picked in `dialog`.
pub(super) fn chosen_path(
    typed: &str,
    dialog: impl FnOnce() -> Option<PathBuf>,
) -> Result<PathBuf, String> {
    let typed = typed.trim();
    if !typed.is_empty() {
        return Ok(PathBuf::from(typed));
    }
    dialog().ok_or_else(|| "no file chosen (type a path if no dialog appears)".into())
}
