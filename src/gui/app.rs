//! The workbench's frame loop, its header, and how it handles captured samples and attempts;
//! each tab draws itself in its own file, from the state (`state.rs`), emitting commands
//! (`command.rs`).

use std::sync::Arc;
use std::sync::mpsc::TryRecvError;

use chrono::Local;
use ndarray::Array2;

use super::capture::{self, RECORDING, RawKey, Source};
use super::command::Status;
use super::state::{Command, LiveAttempt, Options, Pending, Tab, Undo, UserView, Workbench};
use super::watch::StoreWatch;
use keystroke_core::auth::{
    EnrolConfig, ModelCache, Rejection, Throttle, Verdict, Verifier, VerifyConfig, VerifyError,
    enrol, sample_table,
};
use keystroke_core::capture::{Capture, Recorded, Recorder, Sample, ShiftFold, fit_to_phrase};
use keystroke_core::detect::SecurityLevel;
use keystroke_core::eval::Attempt;
use keystroke_core::features::Features;
use keystroke_core::store::{Store, StoreError, UserId};
use keystroke_server::ServerHandle;

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

/// The live test's settings.
fn live_config(throttling: bool, security: SecurityLevel) -> VerifyConfig {
    VerifyConfig {
        throttle: throttle_for(throttling),
        security,
        ..VerifyConfig::default()
    }
}

/// The live test's verifier.
fn live_verifier(store: &Arc<Store>, throttling: bool, security: SecurityLevel) -> Verifier {
    Verifier::new(
        Arc::clone(store),
        live_config(throttling, security),
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
            verifier: live_verifier(&store, true, SecurityLevel::default()),
            store,
            tab: options.tab.unwrap_or(Tab::Enrol),
            source,
            global,
            armed: options.arm,
            recording: false,
            field_focused: false,
            recorder: Recorder::new(),
            fold: ShiftFold::new(),
            window_shift: false,
            user: None,
            view: None,
            pending: Vec::new(),
            undo: Vec::new(),
            session: Default::default(),
            confirm_delete: None,
            messages: Default::default(),
            live_test: options.live_test,
            attempts: Vec::new(),
            throttling: true,
            security: SecurityLevel::default(),
            server_security: SecurityLevel::default(),
            server_throttling: true,
            server_token: String::new(),
            enrolment_code: None,
            training: None,
            training_tab: Tab::Test,
            server: None,
            plot: Default::default(),
            files: Default::default(),
            eval: Default::default(),
            demo: Default::default(),
            commands: Vec::new(),
            watch: None,
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

    /// The status line of the tab shown.
    pub fn message(&self) -> &str {
        self.messages.get(&self.tab).map_or("", String::as_str)
    }

    /// The score of the newest live-test attempt, if any.
    pub fn last_score(&self) -> Option<f64> {
        self.attempts.last().map(|a| a.attempt.score)
    }

    /// The embedded server, if running.
    pub fn server(&self) -> Option<&ServerHandle> {
        self.server.as_ref()
    }

    /// Samples waiting for Accept or Discard.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The API token the next server starts with, as typed on the Server tab.
    pub fn server_token(&self) -> &str {
        &self.server_token
    }

    pub(super) fn select(&mut self, user: UserId) -> Status {
        self.messages.clear();
        self.settings.last_user = Some(user.to_string());
        self.user_input = user.to_string();
        self.demo.reset(&user);
        // Notes are about one participant; the session and device stand.
        self.session.notes.clear();
        self.user = Some(user);
        self.view = None;
        self.pending.clear();
        self.undo.clear();
        self.attempts.clear();
        self.recorder.reset();
        self.save_settings()
    }

    /// Deletes the user awaiting confirmation (the store's deletion: all files at once, under
    /// the user's lock, so a server on the folder sees the user gone, never half).
    pub(super) fn delete_user(&mut self) -> Status {
        let user = self.confirm_delete.take()?;
        let store = Arc::clone(&self.store);
        let verifier = &self.verifier;
        let deleted = store.with_user(&user, |w| {
            verifier.forget(&user);
            w.delete()
        });
        Some(match deleted {
            Ok(true) => {
                let status = format!("{user} deleted: samples, model and lockout state");
                self.select(user);
                status
            }
            Ok(false) => format!("{user} had nothing stored"),
            Err(e) => format!("{user} not deleted: {e}"),
        })
    }

    pub(super) fn save_settings(&mut self) -> Status {
        let path = self.settings_path.as_ref()?;
        self.settings
            .save(path)
            .err()
            .map(|e| format!("cannot save settings to {}: {e}", path.display()))
    }

    /// The selected user's stored data, reloaded if the store changed; the status says why it
    /// cannot be read.
    pub(super) fn refresh_view(&mut self) -> Status {
        let Some(user) = &self.user else {
            self.view = None;
            return None;
        };
        // Another process (a `serve` on the same folder) may have committed: the stamp sees it.
        let stamp = self.store.commit_stamp(user).ok();
        if stamp.is_some() && self.view.as_ref().is_some_and(|v| v.stamp == stamp) {
            return None;
        }
        let loaded = sample_table(&self.store, user).and_then(|table| {
            let Some((metadata, table)) = table else {
                return Ok(UserView {
                    stamp,
                    metadata: None,
                    features: Array2::zeros((0, 0)),
                    table: Vec::new(),
                });
            };
            Ok(UserView {
                stamp,
                features: self.store.active_features(user, &metadata)?,
                metadata: Some(metadata),
                table,
            })
        });
        let status = match &loaded {
            Ok(_) => None,
            Err(StoreError::Legacy { .. }) => Some(format!(
                "{user} was enrolled by the old backend: their next sample starts a new enrolment"
            )),
            Err(e) => Some(e.to_string()),
        };
        self.view = loaded.ok();
        status
    }

    /// A captured key event: a sample or an attempt once the phrase is complete.
    pub(super) fn key(&mut self, key: RawKey) -> Status {
        // A user enrolled when the workbench still recorded Shift as a key keeps that
        // vocabulary, so their phrase still matches; everyone else types capitals as one key.
        let old_vocabulary = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .is_some_and(|m| m.key_sequence.iter().any(|k| k == "Shift"));
        let name = if old_vocabulary {
            key.key
        } else {
            // Shift itself is no key: nothing to record.
            self.fold.map(&key.key, key.action)?
        };
        match self.recorder.push(&name, key.action, key.timestamp_ms) {
            Recorded::Pending => None,
            Recorded::Refused(why) => Some(format!("sample not taken: {why}")),
            Recorded::Sample(sample) => self.on_sample(sample),
        }
    }

    fn on_sample(&mut self, sample: Sample) -> Status {
        let Some(user) = self.user.clone() else {
            return Some("choose a user before typing".into());
        };
        // Enter ends every attempt; a phrase enrolled without it is judged without it.
        let _ = self.refresh_view();
        let sample = match self.enrolled_phrase() {
            Some(phrase) => fit_to_phrase(sample, phrase),
            None => sample,
        };
        // The demo judges every attempt and never enrols one.
        if self.tab == Tab::Demo {
            return self.demo_attempt(&user, sample);
        }
        if self.live_test {
            return self.score_attempt(&user, &sample);
        }
        // A sample is enrolled only where the operator asked for enrolment: never from the
        // Train & test tab (an attempt typed there with Live test off is not a sample).
        if self.tab != Tab::Enrol {
            return Some(format!(
                "not stored: samples are enrolled on the Enrol tab; tick Live test on the {} \
                 tab to judge attempts",
                Tab::Test.label()
            ));
        }
        let features = Features::of(&sample);
        if let Some(difference) = self.phrase_difference(&features.key_sequence) {
            return Some(format!("sample refused: {difference}"));
        }
        if let Some(first) = self.pending.first()
            && first.features.key_sequence != features.key_sequence
            && self.view.as_ref().is_none_or(|v| v.metadata.is_none())
        {
            return Some("sample refused: it differs from the pending samples' phrase".into());
        }
        self.pending.push(Pending {
            sample,
            features,
            capture: self.source.tag(),
            participant: self.session.record(),
        });
        if self.settings.auto_accept {
            self.store_pending(self.pending.len() - 1)
        } else {
            Some("sample ready: accept or discard it".into())
        }
    }

    /// The selected user's enrolled phrase, as of the last [`Self::refresh_view`].
    fn enrolled_phrase(&self) -> Option<&[String]> {
        let metadata = self.view.as_ref()?.metadata.as_ref()?;
        Some(&metadata.key_sequence)
    }

    /// What was typed against the enrolled phrase, when they differ.
    pub(super) fn phrase_difference(&self, typed: &[String]) -> Option<String> {
        let enrolled = self.enrolled_phrase().filter(|phrase| *phrase != typed)?;
        Some(format!(
            "typed [{}], the enrolled phrase is [{}]",
            typed.join(" "),
            enrolled.join(" ")
        ))
    }

    pub(super) fn store_pending(&mut self, index: usize) -> Status {
        let (Some(user), Some(pending)) = (self.user.clone(), self.pending.get(index)) else {
            return None;
        };
        let now = Local::now().naive_local();
        // The server's enrolment path, with its limits; the workbench trains when asked.
        let config = EnrolConfig {
            detector: None,
            ..EnrolConfig::default()
        };
        let capture = Capture {
            participant: pending.participant.clone(),
            ..Capture::of(pending.capture)
        };
        let result = enrol(
            &self.store,
            &config,
            &user,
            &pending.sample,
            Some(&capture),
            now,
        );
        let status = match result {
            Ok(enrolled) => {
                self.pending.remove(index);
                self.undo.push(Undo {
                    user: user.clone(),
                    number: enrolled.number,
                    excluded: true,
                    what: format!("accept of sample {}", enrolled.number),
                });
                let quality = match &enrolled.quality {
                    None => String::new(),
                    Some(q) if q.consistent => format!(" (consistency {:.2})", q.consistency),
                    Some(q) => format!(
                        " but it is unlike the others (consistency {:.2}): type it again",
                        q.consistency
                    ),
                };
                format!("sample {} of {user} stored{quality}", enrolled.number)
            }
            Err(e) => format!("sample not stored: {e}"),
        };
        let _ = self.refresh_view();
        Some(status)
    }

    /// Stores the pending samples oldest first; stops at the first one refused (it stays
    /// pending, with those after it, and the status says why).
    pub(super) fn store_all_pending(&mut self) -> Status {
        let total = self.pending.len();
        let mut status = None;
        while !self.pending.is_empty() {
            let before = self.pending.len();
            status = self.store_pending(0);
            if self.pending.len() == before {
                let stored = total - before;
                return status.map(|why| format!("{stored} of {total} stored; then {why}"));
            }
        }
        status.map(|last| format!("all {total} pending samples stored ({last})"))
    }

    pub(super) fn drop_pending(&mut self, index: usize) -> Status {
        (index < self.pending.len()).then(|| {
            self.pending.remove(index);
            "sample discarded".into()
        })
    }

    fn score_attempt(&mut self, user: &UserId, sample: &Sample) -> Status {
        let (verdict, status) = match self.judge(user, sample) {
            Ok(judged) => judged,
            Err(why) => return Some(why),
        };
        let _ = self.refresh_view();
        let model = self.current_model();
        self.attempts.push(LiveAttempt {
            attempt: Attempt {
                score: verdict.score,
                label: None,
            },
            model,
        });
        Some(status)
    }

    /// Judges an attempt as /predict does (never storing it), counting a failure toward the
    /// user's lockout unless throttling is off; the verdict and a status line, or why it was
    /// not judged.
    pub(super) fn judge(
        &mut self,
        user: &UserId,
        sample: &Sample,
    ) -> Result<(Verdict, String), String> {
        let now = Local::now().naive_local();
        self.verifier
            .set_config(live_config(self.throttling, self.security));
        let verdict = match self.verifier.verify(user, sample, now) {
            Ok(verdict) => verdict,
            Err(VerifyError::LockedOut(left)) => {
                return Err(format!(
                    "{user} is locked out for {left} s more after {} failed attempts in a row \
                     (throttling can be switched off for a demo)",
                    Throttle::default().max_failures
                ));
            }
            Err(VerifyError::NotEnrolled { .. }) => {
                return Err(format!("{user} has no trained model: train one first"));
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut status = match verdict.rejection {
            None => format!("genuine ({:+.3})", verdict.score),
            Some(Rejection::Anomaly) => format!("imposter ({:+.3})", verdict.score),
            Some(Rejection::PhraseMismatch) => {
                let reason = Rejection::PhraseMismatch.reason();
                self.phrase_difference(&sample.key_sequence())
                    .map_or(reason.to_string(), |difference| {
                        format!("{reason}: {difference}")
                    })
            }
            Some(other) => other.reason().to_string(),
        };
        if let Some(lockout) = verdict.lockout {
            status += &format!("; {user} is now locked out for {} s", lockout.as_secs());
        }
        // Counts reach the store now, not in a server's background flush: attempts come at
        // the pace of a person typing.
        if let Err(e) = self.verifier.flush() {
            status += &format!("; the attempt could not be counted: {e}");
        }
        Ok((verdict, status))
    }

    /// Seconds `user` stays locked out in the live test, if they are.
    pub(super) fn locked_out_for(&self, user: &UserId) -> Option<u64> {
        self.verifier
            .locked_out_for(user, Local::now().naive_local())
    }

    /// Takes this frame's key events from the active source. Keys are recorded only while
    /// capture is armed, the window has focus and no text field (user, host, port, path, a
    /// number being typed) has it: what the operator types there is never a sample. While
    /// recording, no other widget keeps keyboard focus, so a key of the phrase (Enter, Space)
    /// cannot press the button last clicked. When recording pauses, the attempt in progress is
    /// abandoned.
    fn capture(&mut self, ctx: &egui::Context) -> Status {
        let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
        let field_focused = ctx.text_edit_focused();
        let recording = self.armed && focused && !field_focused && !self.field_focused;
        self.field_focused = field_focused;
        RECORDING.store(recording, std::sync::atomic::Ordering::Relaxed);
        if recording {
            ctx.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
        let mut status = None;
        if self.recording && !recording {
            // Releases of keys held now will not be seen.
            self.fold.reset();
            self.window_shift = false;
        }
        if self.recording && !recording && !self.recorder.typed().is_empty() {
            self.recorder.reset();
            status = Some(
                "attempt abandoned: capture paused (a text field, another window or disarmed)"
                    .into(),
            );
        }
        self.recording = recording;
        let keys = match (&self.global, recording) {
            (Some(global), true) => global.drain(),
            (Some(global), false) => {
                global.drain();
                Vec::new()
            }
            (None, true) => capture::window_keys(ctx, &mut self.window_shift),
            (None, false) => Vec::new(),
        };
        for key in keys {
            self.on_key(key);
        }
        if self.global.is_some() {
            // The listener wakes the window on each event: no polling while idle.
            capture::wake_on_events(ctx);
        }
        status
    }

    pub(super) fn training_done(&mut self) -> Status {
        let status = match self.training.as_ref()?.try_recv() {
            Ok(Ok(metadata)) => format!(
                "trained {} on {} samples",
                metadata.detector.map_or("?", |d| d.id()),
                metadata.active_samples()
            ),
            Ok(Err(e)) => format!("training failed: {e}"),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => "training stopped unexpectedly".into(),
        };
        self.training = None;
        Some(status)
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
                self.commands.push(Command::SelectTyped);
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
                        // Read only while the list is open: each entry's count and model.
                        for user in users {
                            let entry = match self.store.metadata(&user) {
                                Ok(Some(m)) => format!(
                                    "{user}  ({} samples{})",
                                    m.active_samples(),
                                    m.trained_detector()
                                        .map_or(String::new(), |d| format!(", {d}"))
                                ),
                                Ok(None) => format!("{user}  (no samples)"),
                                Err(_) => format!("{user}  (unreadable: run store check)"),
                            };
                            if ui.selectable_label(false, entry).clicked() {
                                picked = Some(user);
                            }
                        }
                    });
                if let Some(user) = picked {
                    self.commands.push(Command::SelectUser(user));
                }
            }
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.armed, "Capture armed");
            ui.label(format!("Source: {}", self.source.describe()));
        });
        ui.label(
            egui::RichText::new(
                "Keys are recorded only while capture is armed, this window has focus and no \
                 text field is being edited; keys typed into other windows or into fields are \
                 never recorded.",
            )
            .small()
            .weak(),
        );
        // One line, whatever its length, so nothing below moves when the status changes (the
        // whole text shows on hover).
        ui.add(egui::Label::new(format!("Status: {}", self.message())).truncate());
        ui.separator();
    }
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let status = self.capture(ctx);
        self.show(status);
        self.poll();
        // Samples another program on the same folder (a `serve`) stores wake the window.
        let store = &self.store;
        self.watch
            .get_or_insert_with(|| StoreWatch::start(Arc::clone(store), ctx.clone()))
            .watch(self.user.as_ref());
        if self.training.is_some() || self.server.is_some() || self.evaluating() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        } else if self
            .user
            .as_ref()
            .is_some_and(|u| self.locked_out_for(u).is_some())
        {
            // The lockout countdown.
            ctx.request_repaint_after(std::time::Duration::from_secs(1));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let trouble = self.refresh_view();
        self.show(trouble);
        egui::CentralPanel::default_margins().show(ui, |ui| {
            self.header(ui);
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Enrol => self.enrol_tab(ui),
                Tab::Timings => self.timings_tab(ui),
                Tab::Test => self.test_tab(ui),
                Tab::Server => self.server_tab(ui),
                Tab::Files => self.files_tab(ui),
                Tab::Evaluate => self.evaluate_tab(ui),
                Tab::Demo => self.demo_tab(ui),
            });
        });
        self.apply_queued();
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        RECORDING.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(trouble) = self.save_settings() {
            eprintln!("{trouble}");
        }
    }
}
