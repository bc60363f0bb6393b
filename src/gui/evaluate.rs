//! The Evaluate tab: the Killourhy & Maxion protocol on the bundled CMU benchmark, or on the
//! store's users who typed the selected user's phrase (each against the others), on a worker
//! thread with a progress bar; the EER table and each subject's ROC or DET curve.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TryRecvError};

use egui_plot::{Line, Plot};

use super::command::Status;
use super::state::{Command, EvalJob, EvalOutcome, Workbench};
use keystroke_core::capture;
use keystroke_core::detect::DetectorKind;
use keystroke_core::eval::{CMU, Evaluation, Protocol, SubjectResult, roc_points, store_dataset};
use keystroke_core::store::{Store, UserId};

impl Workbench {
    /// Whether an evaluation is running.
    pub fn evaluating(&self) -> bool {
        self.eval.job.is_some()
    }

    /// Starts the evaluation chosen in the tab.
    pub(super) fn evaluate(&mut self) -> Status {
        if self.eval.job.is_some() {
            return None;
        }
        let on_store = self.eval.on_store;
        let source = self.eval.source;
        let user = self.user.clone();
        let store = Arc::clone(&self.store);
        let detector = self.eval.detector;
        let train = self.eval.train_samples.clamp(1, 200);
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (d, t) = (Arc::clone(&done), Arc::clone(&total));
        let spawned = std::thread::Builder::new()
            .name("eval-worker".into())
            .spawn(move || {
                let data = EvalData {
                    on_store,
                    source,
                    user,
                    train,
                };
                let _ = tx.send(evaluate(&data, &store, detector, &d, &t));
            });
        match spawned {
            Ok(_) => {
                self.eval.job = Some(EvalJob {
                    done,
                    total,
                    result: rx,
                });
                None
            }
            Err(e) => Some(format!("cannot start the evaluation: {e}")),
        }
    }

    pub(super) fn evaluation_done(&mut self) -> Status {
        let status = match self.eval.job.as_ref()?.result.try_recv() {
            Ok(outcome) => {
                let status = match &outcome {
                    Ok(o) => format!("{}: mean EER {:.4}", o.title, o.result.eer_mean),
                    Err(e) => format!("evaluation failed: {e}"),
                };
                self.eval.outcome = Some(outcome);
                status
            }
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => "the evaluation stopped unexpectedly".into(),
        };
        self.eval.job = None;
        Some(status)
    }

    pub(super) fn evaluate_tab(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.eval.on_store, false, "CMU benchmark (bundled)");
            ui.radio_value(
                &mut self.eval.on_store,
                true,
                "Store users with the selected user's phrase",
            );
        });
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Detector to evaluate")
                .selected_text(self.eval.detector.label())
                .show_ui(ui, |ui| {
                    for &kind in DetectorKind::ALL {
                        ui.selectable_value(&mut self.eval.detector, kind, kind.label());
                    }
                });
            if self.eval.on_store {
                egui::ComboBox::from_label("Samples from")
                    .selected_text(self.eval.source.unwrap_or("every source"))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.eval.source, None, "every source");
                        for source in capture::source::SOURCES {
                            ui.selectable_value(&mut self.eval.source, Some(source), source);
                        }
                    });
            } else {
                let label = ui.label("Training samples:");
                ui.add(egui::DragValue::new(&mut self.eval.train_samples).range(1..=200))
                    .labelled_by(label.id);
            }
            let running = self.eval.job.is_some();
            if ui
                .add_enabled(!running, egui::Button::new("Run evaluation"))
                .clicked()
            {
                self.commands.push(Command::Evaluate);
            }
        });
        if let Some(job) = &self.eval.job {
            let (done, total) = (
                job.done.load(Ordering::Relaxed),
                job.total.load(Ordering::Relaxed).max(1),
            );
            ui.add(
                egui::ProgressBar::new(done as f32 / total as f32)
                    .text(format!("subjects: {done} of {total}")),
            );
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        match &self.eval.outcome {
            None => {}
            Some(Err(e)) => {
                ui.colored_label(egui::Color32::LIGHT_RED, e);
            }
            Some(Ok(outcome)) => {
                let result = &outcome.result;
                ui.heading(&outcome.title);
                egui::Grid::new("eer").striped(true).show(ui, |ui| {
                    ui.label("detector");
                    ui.label("mean EER");
                    ui.label("sd");
                    ui.label("zero-miss FAR");
                    ui.end_row();
                    ui.label(&result.name);
                    ui.label(format!("{:.4}", result.eer_mean));
                    ui.label(format!("{:.4}", result.eer_sd));
                    ui.label(format!("{:.4}", result.zero_miss_far_mean));
                    ui.end_row();
                });
                ui.checkbox(
                    &mut self.eval.det,
                    "DET (miss rate) instead of ROC (hit rate)",
                );
                let det = self.eval.det;
                Plot::new("roc")
                    .height(300.0)
                    .x_axis_label("false-alarm rate (genuine rejected)")
                    .y_axis_label(if det {
                        "miss rate (impostors accepted)"
                    } else {
                        "hit rate (impostors caught)"
                    })
                    .show(ui, |plot| {
                        for (subject, points) in &outcome.curves {
                            let xy: Vec<[f64; 2]> = points
                                .iter()
                                .map(|p| [p.false_alarm, if det { p.miss } else { 1.0 - p.miss }])
                                .collect();
                            plot.line(Line::new(subject.as_str(), xy).width(1.0));
                        }
                    });
                egui::CollapsingHeader::new("Per-subject EER").show(ui, |ui| {
                    for s in &result.subjects {
                        ui.monospace(format!(
                            "{:<24} EER {:.4}  zero-miss FAR {:.4}",
                            s.subject, s.eer, s.zero_miss_far
                        ));
                    }
                });
            }
        }
    }
}

/// What an evaluation runs on.
struct EvalData {
    /// The store's users rather than the benchmark.
    on_store: bool,
    /// On the store: only this source's samples.
    source: Option<&'static str>,
    /// Whose phrase (on the store).
    user: Option<UserId>,
    /// Benchmark training samples.
    train: usize,
}

/// Runs one evaluation, counting subjects in `done` out of `total`.
fn evaluate(
    on: &EvalData,
    store: &Store,
    detector: DetectorKind,
    done: &AtomicUsize,
    total: &AtomicUsize,
) -> Result<EvalOutcome, String> {
    let train = on.train;
    let (data, protocol, title) = if on.on_store {
        let user = on
            .user
            .clone()
            .ok_or("choose a user whose phrase to evaluate")?;
        let (data, protocol) = store_dataset(store, &user, on.source).map_err(|e| e.to_string())?;
        let title = format!(
            "{} store users{}, {} training samples each",
            data.subjects.len(),
            on.source
                .map_or(String::new(), |s| format!(" ({s} samples)")),
            protocol.train_samples().unwrap_or(0)
        );
        (data, protocol, title)
    } else {
        let data = CMU.load().map_err(|e| e.to_string())?;
        let title = format!("CMU benchmark, {train} training samples");
        (data, Protocol::cmu(train), title)
    };
    let params = detector.default_params().for_ranking();
    let evaluation = Evaluation::new(&data, protocol, params, &[0]).map_err(|e| e.to_string())?;
    total.store(evaluation.n_subjects(), Ordering::Relaxed);
    let mut curves = Vec::new();
    let mut subjects = Vec::new();
    for i in 0..evaluation.n_subjects() {
        let scores = evaluation.subject_scores(i, 0).map_err(|e| e.to_string())?;
        let id = data.subjects[i].id.clone();
        curves.push((id.clone(), roc_points(&scores.genuine, &scores.impostor)));
        subjects.push(SubjectResult::of(id, &[scores]));
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(EvalOutcome {
        title: format!("{}: {title}", detector.label()),
        result: evaluation.summarise(subjects),
        curves,
    })
}
