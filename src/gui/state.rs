//! The workbench's state: what every panel draws from. Panels change it only through their
//! own widgets' values and the [`Command`]s they emit; `command.rs` applies those in one place.
//! This module imports no panel.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::Receiver;

use ndarray::Array2;

use super::capture::{GlobalCapture, Source};
use super::settings::Settings;
use super::watch::StoreWatch;
use keystroke_core::auth::{SampleRow, Verifier};
use keystroke_core::capture::{Participant, Recorder, Sample, ShiftFold};
use keystroke_core::demo::{DemoSession, Deviation};
use keystroke_core::detect::{self, DetectorKind, SecurityLevel};
use keystroke_core::eval::{Attempt, DetectorResult, Label, RocPoint};
use keystroke_core::features::Features;
use keystroke_core::store::{CommitStamp, LocalTime, Metadata, Store, StoreError, UserId};
use keystroke_server::ServerHandle;
use keystroke_server::api::IssuedCode;

/// Something a panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Select (or create, on its first sample) this user.
    SelectUser(UserId),
    /// Select the user typed into the User field.
    SelectTyped,
    /// Store pending sample `n`.
    Accept(usize),
    /// Drop pending sample `n`.
    Discard(usize),
    /// Store every pending sample, in order (stopping at the first refused).
    AcceptAll,
    /// Drop every pending sample.
    DiscardAll,
    /// Train the selected user's model (on a worker thread).
    Train,
    /// The live-test switch changed: a half-typed attempt is dropped.
    LiveTestToggled,
    /// Start the embedded server.
    StartServer,
    /// Stop the embedded server.
    StopServer,
    /// Issue an enrolment code for the collection page (the server has a token).
    NewEnrolmentCode,
    /// Open a session file (the typed path, or a file dialog) into the pending samples.
    OpenSession,
    /// Save the selected user's samples as a session file.
    SaveSession,
    /// Export the selected user's features as CSV.
    ExportFeatures,
    /// Start the evaluation chosen on the Evaluate tab.
    Evaluate,
    /// Export the Evaluate tab's figure as SVG (its typed path, or a dialog).
    ExportFigure,
    /// Export the Evaluate tab's table as CSV.
    ExportTable,
    /// Save the settings (a choice in them changed).
    SaveSettings,
    /// Take stored sample `number` (from 1) of the selected user out of use, or put it back.
    SetExcluded {
        /// The sample, from 1.
        number: usize,
        /// Out of use (`true`) or back in use.
        excluded: bool,
    },
    /// Undo the newest sample action (an accept, exclusion or restoration) of this user.
    Undo,
    /// Label the next attempts of the demo in advance (the Demo tab's count, label, typist).
    QueueLabels,
    /// Forget the labels set in advance.
    ClearQueue,
    /// Label demo attempt `n` (from 0) after the fact.
    LabelDemoAttempt(usize, Label),
    /// Save the demo's attempts (the Demo tab's path) as JSON.
    SaveDemo,
    /// Open a saved demo (the Demo tab's path), replacing the attempts shown.
    OpenDemo,
    /// Export the demo's attempts (the Demo tab's path) as CSV.
    ExportDemo,
    /// Ask to confirm deleting the selected user.
    AskDelete,
    /// Delete the user awaiting confirmation: all samples, model and lockout state.
    ConfirmDelete,
    /// Keep the user awaiting confirmation.
    CancelDelete,
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The live impostor demo.
    Demo,
}

impl std::str::FromStr for Tab {
    type Err = String;
    fn from_str(name: &str) -> Result<Tab, String> {
        Tab::ALL
            .into_iter()
            .find(|t| t.id() == name)
            .ok_or_else(|| {
                format!(
                    "unknown tab {name:?}: enrol, timings, test, demo, evaluate, server or files"
                )
            })
    }
}

impl Tab {
    pub(super) const ALL: [Tab; 7] = [
        Tab::Enrol,
        Tab::Timings,
        Tab::Test,
        Tab::Demo,
        Tab::Evaluate,
        Tab::Server,
        Tab::Files,
    ];

    pub(super) fn id(self) -> &'static str {
        match self {
            Tab::Enrol => "enrol",
            Tab::Timings => "timings",
            Tab::Test => "test",
            Tab::Server => "server",
            Tab::Files => "files",
            Tab::Evaluate => "evaluate",
            Tab::Demo => "demo",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Tab::Enrol => "Enrol",
            Tab::Timings => "Timings",
            Tab::Test => "Train & test",
            Tab::Server => "Server",
            Tab::Files => "Files",
            Tab::Evaluate => "Evaluate",
            Tab::Demo => "Demo",
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
    /// The participant record when it was typed (none for an opened session).
    pub participant: Participant,
}

/// What the store holds for the selected user, reloaded when it changes.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The user's commit stamp it was read at (`None`: unknown, reloaded every frame).
    pub stamp: Option<CommitStamp>,
    /// Metadata (`None`: no samples yet).
    pub metadata: Option<Metadata>,
    /// Feature rows of the samples in use (excluded ones are not plotted or exported).
    pub features: Array2<f64>,
    /// Every stored sample, oldest first, excluded ones included.
    pub table: Vec<SampleRow>,
}

/// A live-test attempt and the model that judged it (its training time): the histogram and
/// the error rates count the current model's attempts only, never a mix of two scales.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAttempt {
    /// Its score and label.
    pub attempt: Attempt,
    /// When the model that judged it was trained.
    pub model: Option<LocalTime>,
}

/// The Enrol tab's participant record, as typed.
#[derive(Debug, Clone, Default)]
pub struct SessionForm {
    /// The session's label.
    pub session: String,
    /// The device or keyboard.
    pub device: String,
    /// Notes.
    pub notes: String,
}

impl SessionForm {
    /// The record as it stands.
    pub fn record(&self) -> Participant {
        Participant::new(&self.session, &self.device, &self.notes)
    }
}

/// A sample action that can be undone: putting sample `number` (from 1) of `user` back as it
/// was (`excluded` is the state to return to; an accepted sample is undone by excluding it).
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    /// The user.
    pub user: UserId,
    /// The sample, from 1.
    pub number: usize,
    /// What undoing sets.
    pub excluded: bool,
    /// What was done, for the button's note ("accept of sample 4").
    pub what: String,
}

/// The desktop workbench.
pub struct Workbench {
    pub(super) settings: Settings,
    pub(super) settings_path: Option<PathBuf>,
    pub(super) store: Arc<Store>,
    /// Judges live-test attempts exactly as the server's /predict does (lockout persisted in
    /// the store, replay rejection); kept when the throttling switch or the security level
    /// changes (only its settings change), so a replay stays a replay.
    pub(super) verifier: Verifier,
    pub(super) tab: Tab,
    pub(super) source: Source,
    pub(super) global: Option<GlobalCapture>,
    pub(super) armed: bool,
    /// Whether keys were being recorded last frame (an attempt in progress is abandoned when
    /// recording pauses, so keys from before and after a pause never form one sample).
    pub(super) recording: bool,
    /// Whether a text field had keyboard focus last frame: the key that leaves it (Escape,
    /// Enter, Tab) arrives in the frame after, when egui has already dropped the focus.
    pub(super) field_focused: bool,
    pub(super) recorder: Recorder,
    /// Shift folded into the letters typed with it (`Shift` + `r` → `R`), as the bundled
    /// sessions record capitals.
    pub(super) fold: ShiftFold,
    /// The window source's Shift modifier as last seen.
    pub(super) window_shift: bool,
    pub(super) user_input: String,
    pub(super) user: Option<UserId>,
    pub(super) view: Option<UserView>,
    pub(super) pending: Vec<Pending>,
    /// The selected user's sample actions, newest last.
    pub(super) undo: Vec<Undo>,
    /// The enrolment session's record, stored with each sample accepted (kept across users:
    /// a session enrols several participants).
    pub(super) session: SessionForm,
    /// The user whose deletion awaits the operator's confirmation.
    pub(super) confirm_delete: Option<UserId>,
    /// Each tab's status line (cleared when another user is selected, so no tab shows a
    /// status about the previous one).
    pub(super) messages: HashMap<Tab, String>,
    pub(super) live_test: bool,
    pub(super) attempts: Vec<LiveAttempt>,
    /// Lock a user out after repeated failed attempts, as the server does. Off only for demos
    /// (an imposter trying again and again), never remembered between runs.
    pub(super) throttling: bool,
    /// Which of a model's thresholds the live test, the demo and a server started now judge
    /// by (`serve --security`).
    pub(super) security: SecurityLevel,
    /// The security level the running server was started with.
    pub(super) server_security: SecurityLevel,
    /// Whether the running server was started with throttling.
    pub(super) server_throttling: bool,
    /// The API token the next server starts with (empty: none). Kept in memory only.
    pub(super) server_token: String,
    /// The newest enrolment code issued for the collection page.
    pub(super) enrolment_code: Option<IssuedCode>,
    pub(super) training: Option<Receiver<Result<Metadata, StoreError>>>,
    /// The tab the training was started from (its outcome is said there).
    pub(super) training_tab: Tab,
    pub(super) server: Option<ServerHandle>,
    pub(super) plot: PlotState,
    pub(super) files: FilesState,
    pub(super) eval: EvalState,
    pub(super) demo: DemoState,
    /// What the panels asked for this frame, applied after they are drawn.
    pub(super) commands: Vec<Command>,
    /// Wakes the window when the selected user's data changes (started on the first frame).
    pub(super) watch: Option<StoreWatch>,
}

/// The Timings tab's plot options.
#[derive(Debug, Clone, Default)]
pub struct PlotState {
    /// Which timing.
    pub kind: Kind,
    /// log10(ms) instead of ms.
    pub log_scale: bool,
    /// The sample shown over the band (`None`: the latest).
    pub sample: Option<usize>,
    /// Draw every sample too, faintly.
    pub all_samples: bool,
}

/// Which timing is plotted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    /// Key hold.
    #[default]
    Hold,
    /// Down to next down.
    DownDown,
    /// Up to next down.
    UpDown,
}

/// The live impostor demo: its attempts, the labels set in advance, and where it is saved.
#[derive(Debug, Clone)]
pub struct DemoState {
    /// The attempts at the selected user's model.
    pub session: DemoSession,
    /// Labels set in advance, in order: each new attempt takes the first.
    pub queue: VecDeque<(Label, String)>,
    /// How many attempts the next "Label next" covers.
    pub next_count: usize,
    /// Their label.
    pub next_label: Label,
    /// Who will type them.
    pub next_typist: String,
    /// Path to save to, open or export to.
    pub path: String,
    /// The JSON file this demo was saved to or opened from: every later attempt and label is
    /// written to it at once, so a crash loses nothing the presenter has saved once.
    pub kept_in: Option<std::path::PathBuf>,
    /// How each timing of the newest attempt lies against the user's samples.
    pub deviations: Vec<Deviation>,
}

impl Default for DemoState {
    fn default() -> Self {
        DemoState {
            session: DemoSession::new(""),
            queue: VecDeque::new(),
            next_count: 5,
            next_label: Label::Imposter,
            next_typist: String::new(),
            path: String::new(),
            kept_in: None,
            deviations: Vec::new(),
        }
    }
}

impl DemoState {
    /// A new demo against `user`: labels set for another user's demo are dropped.
    pub fn reset(&mut self, user: &UserId) {
        self.session = DemoSession::new(user.as_str());
        self.deviations.clear();
        self.queue.clear();
        self.kept_in = None;
    }
}

/// The Files tab's typed path.
#[derive(Debug, Clone, Default)]
pub struct FilesState {
    /// Path for the next open, save or export.
    pub path: String,
}

/// The Evaluate tab's state.
pub struct EvalState {
    /// Evaluate the store's users instead of a bundled data set.
    pub on_store: bool,
    /// On the store: only the samples of this source (`browser`, `global`, …); `None`: all.
    pub source: Option<&'static str>,
    /// The bundled data set (an index into [`keystroke_core::eval::BUNDLED`]).
    pub set: usize,
    /// Detectors evaluated, overlaid in one figure.
    pub detectors: Vec<DetectorKind>,
    /// Training samples per subject (capped at the set's full enrolment).
    pub train_samples: usize,
    /// Draw DET (miss against false alarm, normal-deviate axes) instead of ROC.
    pub det: bool,
    /// Draw each subject's curve besides the detectors' mean curves.
    pub each_subject: bool,
    /// Where the figure (SVG) or the table (CSV) is exported.
    pub path: String,
    pub(super) job: Option<EvalJob>,
    /// The last finished evaluation (a result per detector), or why it failed.
    pub outcome: Option<Result<Vec<EvalOutcome>, String>>,
}

impl Default for EvalState {
    fn default() -> Self {
        EvalState {
            on_store: false,
            source: None,
            set: 0,
            detectors: vec![DetectorKind::of::<detect::ManhattanScaled>()],
            train_samples: 200,
            det: false,
            each_subject: false,
            path: String::new(),
            job: None,
            outcome: None,
        }
    }
}

/// A running evaluation.
pub(super) struct EvalJob {
    pub(super) done: Arc<AtomicUsize>,
    pub(super) total: Arc<AtomicUsize>,
    pub(super) result: Receiver<Result<Vec<EvalOutcome>, String>>,
}

/// A finished evaluation of one detector.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    /// What was evaluated.
    pub title: String,
    /// The detector.
    pub detector: DetectorKind,
    /// The summary and per-subject rates.
    pub result: DetectorResult,
    /// Each subject's operating points.
    pub curves: Vec<(String, Vec<RocPoint>)>,
    /// The subjects' mean curve, `(false alarm, miss)`.
    pub mean: Vec<(f64, f64)>,
    /// Where the mean curve crosses miss = false alarm.
    pub mean_eer: Option<f64>,
}
