//! The workbench's state and frame loop; each tab draws itself in its own file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use chrono::Local;
use ndarray::Array2;

use super::capture::{self, GlobalCapture, RECORDING, RawKey, Source};
use super::settings::Settings;
use keystroke_core::auth::{
    EnrolConfig, ModelCache, Rejection, Throttle, Verifier, VerifyConfig, VerifyError, enrol,
};
use keystroke_core::capture::{Recorded, Recorder, Sample};
use keystroke_core::eval::Attempt;
use keystroke_core::features::Features;
use keystroke_core::store::{CommitStamp, Metadata, Store, StoreError, UserId};
use keystroke_server::ServerHandle;

/// How the workbench starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Settings to start from.
    pub settings: Settings,
    /// Where to save them (`None`: not saved).
    pub settings_path: Option<PathBuf>,
    /// Try rdev's global listener (otherwise window events only).
    pub global_capture: bool,
    /// Arm capture at once.
    pub arm: bool,
    /// Tab to open on.
    pub tab: Option<Tab>,
    /// Start in live-test mode.
    pub live_test: bool,
    /// Start the embedded server at once.
    pub serve: bool,
}

/// The tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Users and samples.
    Enrol,
    /// Timing plots.
    Timings,
    /// Training and live tests.
    Test,
    /// The embedded server.
    Server,
    /// Sessions and exports.
    Files,
    /// Benchmark evaluation.
    Evaluate,
}

impl std::str::FromStr for Tab {
    type Err = String;
    fn from_str(name: &str) -> Result<Tab, String> {
        Tab::ALL
            .into_iter()
            .find(|t| t.id() == name)
            .ok_or_else(|| {
                format!("unknown tab {name:?}: enrol, timings, test, evaluate, server or files")
            })
    }
}

impl Tab {
    const ALL: [Tab; 6] = [
        Tab::Enrol,
        Tab::Timings,
        Tab::Test,
        Tab::Evaluate,
        Tab::Server,
        Tab::Files,
    ];

    fn id(self) -> &'static str {
        match self {
            Tab::Enrol => "enrol",
            Tab::Timings => "timings",
            Tab::Test => "test",
            Tab::Server => "server",
            Tab::Files => "files",
            Tab::Evaluate => "evaluate",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Enrol => "Enrol",
            Tab::Timings => "Timings",
            Tab::Test => "Train & test",
            Tab::Server => "Server",
            Tab::Files => "Files",
            Tab::Evaluate => "Evaluate",
        }
    }
}

/// A completed sample waiting for the operator.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The sample.
    pub sample: Sample,
    /// Its features.
    pub features: Features,
    /// How it was captured ([`Source::tag`]; `file` for an opened session).
    pub capture: &'static str,
}

/// What the store holds for the selected user, reloaded when it changes.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The user's commit stamp it was read at (`None`: unknown, reloaded every frame).
    pub stamp: Option<CommitStamp>,
    /// Metadata (`None`: no samples yet).
    pub metadata: Option<Metadata>,
    /// Feature rows.
    pub features: Array2<f64>,
}

/// The desktop workbench.
pub struct Workbench {
    pub(super) settings: Settings,
    settings_path: Option<PathBuf>,
    pub(super) store: Arc<Store>,
    /// Judges live-test attempts exactly as the server's /predict does (lockout persisted in
    /// the store, replay rejection); rebuilt when the throttling switch changes.
    pub(super) verifier: Verifier,
    pub(super) tab: Tab,
    pub(super) source: Source,
    global: Option<GlobalCapture>,
    pub(super) armed: bool,
    pub(super) recorder: Recorder,
    pub(super) user_input: String,
    pub(super) user: Option<UserId>,
    pub(super) view: Option<UserView>,
    pub(super) pending: Vec<Pending>,
    pub(super) message: String,
    pub(super) live_test: bool,
    pub(super) attempts: Vec<Attempt>,
    /// Lock a user out after repeated failed attempts, as the server does. Off only for demos
    /// (an imposter trying again and again), never remembered between runs.
    pub(super) throttling: bool,
    /// Whether the running server was started with throttling.
    pub(super) server_throttling: bool,
    pub(super) training: Option<Receiver<Result<Metadata, StoreError>>>,
    pub(super) server: Option<ServerHandle>,
    pub(super) plot: super::plots::PlotState,
    pub(super) files: super::files::FilesState,
    pub(super) eval: super::evaluate::EvalState,
}

/// The lockout rule of the live test and of a server started from the workbench: the server's
/// default, or none for a demo (the throttling switch off).
pub(super) fn throttle_for(throttling: bool) -> Throttle {
    if throttling {
        Throttle::default()
    } else {
        Throttle {
            max_failures: 0,
            ..Throttle::default()
        }
    }
}

/// The live test's verifier.
fn live_verifier(store: &Arc<Store>, throttling: bool) -> Verifier {
    Verifier::new(
        Arc::clone(store),
        VerifyConfig {
            throttle: throttle_for(throttling),
            ..VerifyConfig::default()
        },
        ModelCache::new(keystroke_core::auth::DEFAULT_MODEL_CACHE_BYTES),
    )
}

impl Workbench {
    /// Opens the store and, if asked, the global listener.
    pub fn new(options: Options) -> Result<Workbench, StoreError> {
        let settings = options.settings;
        let store = Arc::new(Store::open(&settings.store_dir)?);
        let (source, global) = if options.global_capture {
            match capture::start_global() {
                Ok(global) => (Source::Global, Some(global)),
                Err(why) => (Source::Window(why), None),
            }
        } else {
            (Source::Window("global listener not requested".into()), None)
        };
        let user = settings
            .last_user
            .as_deref()
            .and_then(|u| UserId::parse(u).ok());
        let mut workbench = Workbench {
            user_input: user.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            settings,
            settings_path: options.settings_path,
            verifier: live_verifier(&store, true),
            store,
            tab: options.tab.unwrap_or(Tab::Enrol),
            source,
            global,
            armed: options.arm,
            recorder: Recorder::new(),
            user: None,
            view: None,
            pending: Vec::new(),
            message: String::new(),
            live_test: options.live_test,
            attempts: Vec::new(),
            throttling: true,
            server_throttling: true,
            training: None,
            server: None,
            plot: Default::default(),
            files: Default::default(),
            eval: Default::default(),
        };
        if let Some(user) = user {
            workbench.select_user(user);
        }
        if options.serve {
            workbench.start_server();
        }
        Ok(workbench)
    }

    /// The store the workbench (and its server) use.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The active capture source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The selected user.
    pub fn user(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// The status line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The score of the newest live-test attempt, if any.
    pub fn last_score(&self) -> Option<f64> {
        self.attempts.last().map(|a| a.score)
    }

    /// The embedded server, if running.
    pub fn server(&self) -> Option<&ServerHandle> {
        self.server.as_ref()
    }

    /// Selects (or creates, on its first sample) a user.
    pub fn select_user(&mut self, user: UserId) {
        self.settings.last_user = Some(user.to_string());
        self.user_input = user.to_string();
        self.user = Some(user);
        self.view = None;
        self.pending.clear();
        self.attempts.clear();
        self.recorder.reset();
        self.save_settings();
    }

    pub(super) fn save_settings(&mut self) {
        if let Some(path) = &self.settings_path
            && let Err(e) = self.settings.save(path)
        {
            self.message = format!("cannot save settings to {}: {e}", path.display());
        }
    }

    /// The selected user's stored data, reloaded if the store changed.
    pub(super) fn refresh_view(&mut self) {
        let Some(user) = &self.user else {
            self.view = None;
            return;
        };
        // Another process (a `serve` on the same folder) may have committed: the stamp sees it.
        let stamp = self.store.commit_stamp(user).ok();
        if stamp.is_some() && self.view.as_ref().is_some_and(|v| v.stamp == stamp) {
            return;
        }
        let loaded = self.store.metadata(user).and_then(|metadata| {
            let features = match &metadata {
                Some(m) => self.store.features(user, m)?,
                None => Array2::zeros((0, 0)),
            };
            Ok(UserView {
                stamp,
                metadata,
                features,
            })
        });
        match loaded {
            Ok(view) => self.view = Some(view),
            Err(StoreError::Legacy { .. }) => {
                self.view = None;
                self.message = format!(
                    "{user} was enrolled by the old backend: their next sample starts a new enrolment"
                );
            }
            Err(e) => {
                self.view = None;
                self.message = e.to_string();
            }
        }
    }

    /// Handles one captured key event.
    pub fn on_key(&mut self, key: RawKey) {
        match self.recorder.push(&key.key, key.action, key.timestamp_ms) {
            Recorded::Pending => {}
            Recorded::Refused(why) => self.message = format!("sample not taken: {why}"),
            Recorded::Sample(sample) => self.on_sample(sample),
        }
    }

    fn on_sample(&mut self, sample: Sample) {
        let Some(user) = self.user.clone() else {
            self.message = "choose a user before typing".into();
            return;
        };
        if self.live_test {
            self.score_attempt(&user, &sample);
            return;
        }
        let features = Features::of(&sample);
        self.refresh_view();
        if let Some(metadata) = self.view.as_ref().and_then(|v| v.metadata.as_ref())
            && metadata.key_sequence != features.key_sequence
        {
            self.message = format!(
                "sample refused: typed [{}], the enrolled phrase is [{}]",
                features.key_sequence.join(" "),
                metadata.key_sequence.join(" ")
            );
            return;
        }
        if let Some(first) = self.pending.first()
            && first.features.key_sequence != features.key_sequence
            && self.view.as_ref().is_none_or(|v| v.metadata.is_none())
        {
            self.message = "sample refused: it differs from the pending samples' phrase".into();
            return;
        }
        self.pending.push(Pending {
            sample,
            features,
            capture: self.source.tag(),
        });
        if self.settings.auto_accept {
            self.accept(self.pending.len() - 1);
        } else {
            self.message = "sample ready: accept or discard it".into();
        }
    }

    /// Stores pending sample `index`.
    pub fn accept(&mut self, index: usize) {
        let (Some(user), Some(pending)) = (self.user.clone(), self.pending.get(index)) else {
            return;
        };
        let now = Local::now().naive_local();
        // The server's enrolment path, with its limits; the workbench trains when asked.
        let config = EnrolConfig {
            detector: None,
            ..EnrolConfig::default()
        };
        let result = enrol(
            &self.store,
            &config,
            &user,
            &pending.sample,
            Some(pending.capture),
            now,
        );
        match result {
            Ok(enrolled) => {
                self.pending.remove(index);
                self.message = format!("sample {} of {user} stored", enrolled.samples);
            }
            Err(e) => self.message = format!("sample not stored: {e}"),
        }
        self.refresh_view();
    }

    /// Drops pending sample `index`.
    pub fn discard(&mut self, index: usize) {
        if index < self.pending.len() {
            self.pending.remove(index);
            self.message = "sample discarded".into();
        }
    }

    fn score_attempt(&mut self, user: &UserId, sample: &Sample) {
        let now = Local::now().naive_local();
        if (self.verifier.config().throttle.max_failures > 0) != self.throttling {
            self.verifier = live_verifier(&self.store, self.throttling);
        }
        let verdict = match self.verifier.verify(user, sample, now) {
            Ok(verdict) => verdict,
            Err(VerifyError::LockedOut(left)) => {
                self.message = format!(
                    "{user} is locked out for {left} s more after {} failed attempts in a row \
                     (throttling can be switched off for a demo)",
                    Throttle::default().max_failures
                );
                return;
            }
            Err(VerifyError::NotEnrolled { .. }) => {
                self.message = format!("{user} has no trained model: train one first");
                return;
            }
            Err(e) => {
                self.message = e.to_string();
                return;
            }
        };
        self.message = match verdict.rejection {
            None => format!("genuine ({:+.3})", verdict.score),
            Some(Rejection::Anomaly) => format!("imposter ({:+.3})", verdict.score),
            Some(other) => other.reason().to_string(),
        };
        if let Some(lockout) = verdict.lockout {
            self.message += &format!("; {user} is now locked out for {} s", lockout.as_secs());
        }
        // Counts reach the store now, not in a server's background flush: attempts come at
        // the pace of a person typing.
        if let Err(e) = self.verifier.flush() {
            self.message += &format!("; the attempt could not be counted: {e}");
        }
        self.attempts.push(Attempt {
            score: verdict.score,
            label: None,
        });
    }

    /// Seconds `user` stays locked out in the live test, if they are.
    pub(super) fn locked_out_for(&self, user: &UserId) -> Option<u64> {
        self.verifier
            .locked_out_for(user, Local::now().naive_local())
    }

    /// Takes this frame's key events from the active source.
    fn capture(&mut self, ctx: &egui::Context) {
        let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
        let recording = self.armed && focused;
        RECORDING.store(recording, std::sync::atomic::Ordering::Relaxed);
        let keys = match (&self.global, recording) {
            (Some(global), true) => global.drain(),
            (Some(global), false) => {
                global.drain();
                Vec::new()
            }
            (None, true) => capture::window_keys(ctx),
            (None, false) => Vec::new(),
        };
        for key in keys {
            self.on_key(key);
        }
        if recording && self.global.is_some() {
            // Poll the listener's channel even without window events.
            ctx.request_repaint_after(std::time::Duration::from_millis(15));
        }
    }

    fn poll_training(&mut self) {
        let Some(rx) = &self.training else {
            return;
        };
        match rx.try_recv() {
            Ok(Ok(metadata)) => {
                self.message = format!(
                    "trained {} on {} samples",
                    metadata.detector.map_or("?", |d| d.id()),
                    metadata.samples
                );
                self.training = None;
            }
            Ok(Err(e)) => {
                self.message = format!("training failed: {e}");
                self.training = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                self.message = "training stopped unexpectedly".into();
                self.training = None;
            }
        }
    }

    fn header(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.label());
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("User:");
            let edit = ui
                .text_edit_singleline(&mut self.user_input)
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Select").clicked() || enter {
                match UserId::parse(self.user_input.trim()) {
                    Ok(user) => self.select_user(user),
                    Err(e) => self.message = e.to_string(),
                }
            }
            if let Ok(users) = self.store.users()
                && !users.is_empty()
            {
                let current = self
                    .user
                    .as_ref()
                    .map_or("pick…".to_string(), |u| u.to_string());
                let mut picked = None;
                egui::ComboBox::from_label("Stored users")
                    .selected_text(current)
                    .show_ui(ui, |ui| {
                        for user in users {
                            if ui.selectable_label(false, user.as_str()).clicked() {
                                picked = Some(user);
                            }
                        }
                    });
                if let Some(user) = picked {
                    self.select_user(user);
                }
            }
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.armed, "Capture armed");
            ui.label(format!("Source: {}", self.source.describe()));
        });
        ui.label(
            egui::RichText::new(
                "Keys are recorded only while capture is armed and this window has focus; \
                 keys typed into other windows are never recorded.",
            )
            .small()
            .weak(),
        );
        ui.label(format!("Status: {}", self.message));
        ui.separator();
    }
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.capture(ctx);
        self.poll_training();
        self.poll_evaluation();
        if self.training.is_some() || self.server.is_some() || self.evaluating() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        } else {
            // Samples another program on the same folder (a `serve`) stores show within a second.
            ctx.request_repaint_after(std::time::Duration::from_secs(1));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.refresh_view();
        egui::CentralPanel::default_margins().show(ui, |ui| {
            self.header(ui);
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Enrol => self.enrol_tab(ui),
                Tab::Timings => self.timings_tab(ui),
                Tab::Test => self.test_tab(ui),
                Tab::Server => self.server_tab(ui),
                Tab::Files => self.files_tab(ui),
                Tab::Evaluate => self.evaluate_tab(ui),
            });
        });
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        RECORDING.store(false, std::sync::atomic::Ordering::Relaxed);
        self.save_settings();
    }
}
