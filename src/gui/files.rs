//! The Files tab: sessions as JSON in the API's event format (open, save) and features as CSV,
//! through file dialogs or a typed path (dialogs need a desktop portal, which may be absent).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::app::{Pending, Workbench};
use crate::capture::{KeyEvent, Sample};
use crate::features::{Features, feature_names};

/// The typed path.
#[derive(Debug, Clone, Default)]
pub struct FilesState {
    /// Path for the next open, save or export.
    pub path: String,
}

/// A session file: one user's samples, each in the API's `keystroke_data` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    /// Always `keystroke-workbench/session`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The user.
    pub user_id: String,
    /// Samples, oldest first.
    pub samples: Vec<SessionSample>,
}

/// One sample of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSample {
    /// Its events.
    pub keystroke_data: Vec<KeyEvent>,
}

/// `format` of session files.
pub const SESSION_FORMAT: &str = "keystroke-workbench/session";

impl SessionFile {
    /// Reads and checks a session file.
    pub fn read(path: &Path) -> Result<SessionFile, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: SessionFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a session file: {e}", path.display()))?;
        if file.format != SESSION_FORMAT || file.version != 1 {
            return Err(format!(
                "{} is {} version {}, expected {SESSION_FORMAT} version 1",
                path.display(),
                file.format,
                file.version
            ));
        }
        Ok(file)
    }
}

impl Workbench {
    fn chosen_path(&mut self, dialog: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
        let typed = self.files.path.trim();
        if !typed.is_empty() {
            return Some(PathBuf::from(typed));
        }
        let picked = dialog();
        if picked.is_none() {
            self.message = "no file chosen (type a path if no dialog appears)".into();
        }
        picked
    }

    /// Writes the selected user's stored and pending samples as a session file.
    pub fn save_session(&mut self, path: &Path) -> Result<usize, String> {
        let user = self.user.clone().ok_or("choose a user first")?;
        let mut samples = Vec::new();
        if let Some(metadata) = self.store.metadata(&user).map_err(|e| e.to_string())? {
            for stored in self
                .store
                .samples(&user, &metadata)
                .map_err(|e| e.to_string())?
            {
                samples.push(SessionSample {
                    keystroke_data: stored.keystroke_data,
                });
            }
        }
        samples.extend(self.pending.iter().map(|p| SessionSample {
            keystroke_data: p.sample.events().to_vec(),
        }));
        let file = SessionFile {
            format: SESSION_FORMAT.into(),
            version: 1,
            user_id: user.to_string(),
            samples,
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("sessions serialise");
        std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(file.samples.len())
    }

    /// Reads a session file's samples into the pending list of the selected user.
    pub fn open_session(&mut self, path: &Path) -> Result<usize, String> {
        let file = SessionFile::read(path)?;
        let mut taken = 0;
        for (i, sample) in file.samples.into_iter().enumerate() {
            let sample = Sample::from_events(sample.keystroke_data)
                .map_err(|e| format!("sample {} of {}: {e}", i + 1, path.display()))?;
            let features = Features::of(&sample);
            self.pending.push(Pending {
                sample,
                features,
                capture: "file",
            });
            taken += 1;
        }
        Ok(taken)
    }

    /// Writes the selected user's feature rows as CSV with CMU-style column names.
    pub fn export_features(&mut self, path: &Path) -> Result<usize, String> {
        self.refresh_view();
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

    pub(super) fn files_tab(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Path:");
            ui.text_edit_singleline(&mut self.files.path)
                .labelled_by(label.id);
        });
        ui.label("Leave the path empty to choose in a file dialog.");
        ui.horizontal(|ui| {
            if ui.button("Open session…").clicked()
                && let Some(path) = self.chosen_path(|| {
                    rfd::FileDialog::new()
                        .add_filter("session", &["json"])
                        .pick_file()
                })
            {
                self.message = match self.open_session(&path) {
                    Ok(n) => format!(
                        "{n} samples from {} are pending: accept them on Enrol",
                        path.display()
                    ),
                    Err(e) => e,
                };
            }
            if ui.button("Save session…").clicked()
                && let Some(path) = self.chosen_path(|| {
                    rfd::FileDialog::new()
                        .set_file_name("session.json")
                        .save_file()
                })
            {
                self.message = match self.save_session(&path) {
                    Ok(n) => format!("{n} samples saved to {}", path.display()),
                    Err(e) => e,
                };
            }
            if ui.button("Export features (CSV)…").clicked()
                && let Some(path) = self.chosen_path(|| {
                    rfd::FileDialog::new()
                        .set_file_name("features.csv")
                        .save_file()
                })
            {
                self.message = match self.export_features(&path) {
                    Ok(n) => format!("{n} rows written to {}", path.display()),
                    Err(e) => e,
                };
            }
        });
    }
}
