//! The Files tab: sessions as JSON in the API's event format (open, save) and features as CSV,
//! through file dialogs or a typed path (dialogs need a desktop portal, which may be absent).

use std::path::{Path, PathBuf};

use super::command::{Status, chosen_path};
use super::state::{Command, Pending, Workbench};
use keystroke_core::features::{Features, feature_names};
use keystroke_core::session::SessionFile;
use keystroke_core::store::UserId;

impl Workbench {
    /// Writes the selected user's stored samples in use and pending samples as a session file.
    pub fn save_session(&mut self, path: &Path) -> Result<usize, String> {
        let user = self.user.clone().ok_or("choose a user first")?;
        let mut samples = Vec::new();
        if let Some(metadata) = self.store.metadata(&user).map_err(|e| e.to_string())? {
            for stored in self
                .store
                .active_samples(&user, &metadata)
                .map_err(|e| e.to_string())?
            {
                samples.push(stored.keystroke_data);
            }
        }
        samples.extend(self.pending.iter().map(|p| p.sample.events().to_vec()));
        let file = SessionFile::new(user.as_str(), samples);
        file.write(path).map_err(|e| e.to_string())?;
        Ok(file.samples.len())
    }

    /// Reads a session file into the pending samples of the file's own user, who is selected
    /// (the samples are never filed under whoever was selected before).
    pub fn open_session(&mut self, path: &Path) -> Result<usize, String> {
        let (file, samples) = SessionFile::read(path).map_err(|e| e.to_string())?;
        let user = UserId::parse(&file.user_id)
            .map_err(|e| format!("{}: its user_id is not valid: {e}", path.display()))?;
        if self.user.as_ref() != Some(&user) {
            // Selecting drops the previous user's pending samples, which are theirs.
            let _ = self.select(user);
        }
        let taken = samples.len();
        for sample in samples {
            let features = Features::of(&sample);
            self.pending.push(Pending {
                sample,
                features,
                capture: "file",
                participant: Default::default(),
            });
        }
        Ok(taken)
    }

    /// Writes the selected user's feature rows as CSV with CMU-style column names.
    pub fn export_features(&mut self, path: &Path) -> Result<usize, String> {
        let _ = self.refresh_view();
        let view = self.view.as_ref().ok_or("choose a user first")?;
        let metadata = view.metadata.as_ref().ok_or("this user has no samples")?;
        let mut csv = feature_names(&metadata.key_sequence).join(",");
        csv.push('\n');
        for row in view.features.rows() {
            let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            csv.push_str(&values.join(","));
            csv.push('\n');
        }
        std::fs::write(path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(view.features.nrows())
    }

    pub(super) fn open_session_file(&mut self) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .add_filter("session", &["json"])
                .pick_file()
        };
        self.file_action(dialog, |workbench, path| {
            let n = workbench.open_session(path)?;
            let user = workbench
                .user
                .as_ref()
                .map_or("", |u| u.as_str())
                .to_string();
            Ok(format!(
                "{n} samples of {user} from {} are pending: accept them on Enrol",
                path.display()
            ))
        })
    }

    pub(super) fn save_session_file(&mut self) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .set_file_name("session.json")
                .save_file()
        };
        self.file_action(dialog, |workbench, path| {
            let n = workbench.save_session(path)?;
            Ok(format!("{n} samples saved to {}", path.display()))
        })
    }

    pub(super) fn export_features_file(&mut self) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .set_file_name("features.csv")
                .save_file()
        };
        self.file_action(dialog, |workbench, path| {
            let n = workbench.export_features(path)?;
            Ok(format!("{n} rows written to {}", path.display()))
        })
    }

    /// Runs `act` on the typed path or the one picked in `dialog`; the status says what it did
    /// or why not.
    fn file_action(
        &mut self,
        dialog: impl FnOnce() -> Option<PathBuf>,
        act: impl FnOnce(&mut Workbench, &Path) -> Result<String, String>,
    ) -> Status {
        let done = chosen_path(&self.files.path, dialog).and_then(|path| act(self, &path));
        Some(done.unwrap_or_else(|e| e))
    }

    pub(super) fn files_tab(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Path:");
            ui.text_edit_singleline(&mut self.files.path)
                .labelled_by(label.id);
        });
        ui.label("Leave the path empty to choose in a file dialog.");
        ui.horizontal(|ui| {
            if ui.button("Open session…").clicked() {
                self.commands.push(Command::OpenSession);
            }
            if ui.button("Save session…").clicked() {
                self.commands.push(Command::SaveSession);
            }
            if ui.button("Export features (CSV)…").clicked() {
                self.commands.push(Command::ExportFeatures);
            }
        });
    }
}
