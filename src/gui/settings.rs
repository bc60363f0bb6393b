//! Workbench settings that persist between runs, as JSON in the user's config folder
//! (`$KW_SETTINGS`, else `$XDG_CONFIG_HOME/keystroke-workbench/settings.json`, else
//! `~/.config/keystroke-workbench/settings.json`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use keystroke_core::detect::DetectorKind;

/// What the workbench remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The model store folder.
    pub store_dir: PathBuf,
    /// Detector chosen for training.
    pub detector: DetectorKind,
    /// The user selected last.
    pub last_user: Option<String>,
    /// Samples before the user counts as enrolled (the progress bar's goal).
    pub min_samples: usize,
    /// Store completed samples at once (otherwise they wait for Accept).
    pub auto_accept: bool,
    /// Host and port of the embedded server.
    pub server_host: String,
    /// Port of the embedded server.
    pub server_port: u16,
    /// PEM certificate for HTTPS (with `server_tls_key`; empty = plain HTTP).
    pub server_tls_cert: String,
    /// PEM private key of `server_tls_cert`.
    pub server_tls_key: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            store_dir: PathBuf::from("user_models"),
            detector: keystroke_core::detect::DEFAULT_DETECTOR,
            last_user: None,
            min_samples: keystroke_server::api::DEFAULT_MIN_SAMPLES,
            auto_accept: true,
            server_host: "0.0.0.0".into(),
            server_port: 5000,
            server_tls_cert: String::new(),
            server_tls_key: String::new(),
        }
    }
}

impl Settings {
    /// Where settings live.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("KW_SETTINGS") {
            return Some(PathBuf::from(path));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("keystroke-workbench").join("settings.json"))
    }

    /// Reads settings; a missing file gives the defaults, a damaged one the defaults and why.
    pub fn load(path: &Path) -> (Settings, Option<String>) {
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(settings) => (settings, None),
                Err(e) => (
                    Settings::default(),
                    Some(format!("settings {} ignored: {e}", path.display())),
                ),
            },
            Err(_) => (Settings::default(), None),
        }
    }

    /// Writes settings (temporary file, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = path.with_extension("json.tmp");
        std::fs::write(
            &temp,
            serde_json::to_vec_pretty(self).expect("settings serialise"),
        )?;
        std::fs::rename(temp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/settings.json");
        let settings = Settings {
            last_user: Some("alice".into()),
            detector: DetectorKind::of::<keystroke_core::detect::ManhattanScaled>(),
            ..Settings::default()
        };
        settings.save(&path).unwrap();
        assert_eq!(Settings::load(&path), (settings, None));
        std::fs::write(&path, b"{ not json").unwrap();
        let (loaded, warning) = Settings::load(&path);
        assert_eq!(loaded, Settings::default());
        assert!(warning.unwrap().contains("ignored"));
    }
}
