//! The Train & test tab: choose a detector, train on a worker thread, then a live test where
//! anyone types the phrase, the model judges, and the operator labels each attempt.

use std::sync::mpsc;

use chrono::Local;
use egui_plot::{Bar, BarChart, Plot};

use super::command::Status;
use super::gauge::{GENUINE, IMPOSTOR, gauge};
use super::server_panel::demo_banner;
use super::state::{Command, Workbench};
use keystroke_core::auth::Throttle;
use keystroke_core::detect::{DetectorKind, SecurityLevel};
use keystroke_core::eval::{Attempt, Label, SessionRates, histogram};
use keystroke_core::store::LocalTime;

/// Half the width of a score axis: 0.5 (the isolation forest's scale) or, for detectors whose
/// decisions spread further, the largest |score|, rounded up to a whole number.
pub(super) fn score_span(scores: impl Iterator<Item = f64>) -> f64 {
    let largest = scores
        .map(f64::abs)
        .filter(|s| s.is_finite())
        .fold(0.0, f64::max);
    if largest <= 0.5 { 0.5 } else { largest.ceil() }
}

impl Workbench {
    /// When the selected user's current model was trained (`None`: no model).
    pub(super) fn current_model(&self) -> Option<LocalTime> {
        self.view.as_ref()?.metadata.as_ref()?.trained_at
    }

    /// The throttling switch (shared by the live test, the demo and a server started from
    /// the window), with the demo banner when it is off or the lockout countdown.
    pub(super) fn throttling_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Security level")
                .selected_text(self.security.id())
                .show_ui(ui, |ui| {
                    for level in SecurityLevel::ALL {
                        ui.selectable_value(&mut self.security, level, level.id())
                            .on_hover_text(format!(
                                "threshold: the {}th percentile of the user's own held-out \
                                 scores (docs/detectors.md gives each level's error rates)",
                                level.percent()
                            ));
                    }
                })
                .response
                .on_hover_text(
                    "Which of the model's thresholds the live test, the demo and a server \
                     started now judge by; the isolation forest keeps scikit-learn's",
                );
            ui.checkbox(
                &mut self.throttling,
                format!(
                    "Throttling: lock out after {} failed attempts in a row",
                    Throttle::default().max_failures
                ),
            );
            if !self.throttling {
                ui.label(demo_banner(
                    "THROTTLING OFF (demo): failed attempts never lock out, here or in a \
                     server started now",
                ));
            } else if let Some(left) = self.user.as_ref().and_then(|u| self.locked_out_for(u)) {
                ui.label(
                    egui::RichText::new(format!("locked out: {left} s left"))
                        .color(egui::Color32::LIGHT_RED),
                );
            }
        });
    }

    /// The live-test attempts the current model judged.
    fn current_attempts(&self) -> Vec<Attempt> {
        let model = self.current_model();
        self.attempts
            .iter()
            .filter(|a| a.model == model)
            .map(|a| a.attempt.clone())
            .collect()
    }

    /// Trains the selected user's model on a worker thread.
    pub(super) fn train(&mut self) -> Status {
        let Some(user) = self.user.clone() else {
            return Some("choose a user first".into());
        };
        if self.training.is_some() {
            return None;
        }
        let store = std::sync::Arc::clone(&self.store);
        let params = self.settings.detector.default_params();
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("train-worker".into())
            .spawn(move || {
                let now = Local::now().naive_local();
                let _ = tx.send(store.with_user(&user, |w| w.train(&params, now)));
            });
        match spawned {
            Ok(_) => {
                self.training = Some(rx);
                self.training_tab = self.tab;
                Some(format!("training {}…", self.settings.detector.label()))
            }
            Err(e) => Some(format!("cannot start training: {e}")),
        }
    }

    pub(super) fn test_tab(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let before = self.settings.detector;
            egui::ComboBox::from_label("Detector to train next")
                .selected_text(self.settings.detector.label())
                .show_ui(ui, |ui| {
                    for &kind in DetectorKind::ALL {
                        ui.selectable_value(&mut self.settings.detector, kind, kind.label());
                    }
                });
            if before != self.settings.detector {
                self.commands.push(Command::SaveSettings);
            }
            let training = self.training.is_some();
            if ui
                .add_enabled(!training, egui::Button::new("Train"))
                .clicked()
            {
                self.commands.push(Command::Train);
            }
            if training {
                ui.spinner();
            }
        });
        let trained = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .and_then(|m| m.trained_detector().zip(m.trained_at));
        // What judges attempts is the user's own model, whatever the box above says.
        ui.label(match &trained {
            Some((detector, at)) => format!(
                "{}'s model (judges attempts): {} trained at {at}",
                self.user.as_ref().map_or("-", |u| u.as_str()),
                detector.label()
            ),
            None => "model: none (train one to test)".to_string(),
        });
        ui.separator();
        if ui.checkbox(&mut self.live_test, "Live test").changed() {
            self.commands.push(Command::LiveTestToggled);
        }
        ui.label(
            "In live test, typed samples are judged, not stored. Label each attempt to get \
             the session's error rates.",
        );
        self.throttling_row(ui);
        let current = self.current_attempts();
        let span = score_span(current.iter().map(|a| a.score));
        if let Some(last) = self.attempts.last().map(|a| &a.attempt) {
            let score = last.score;
            let verdict = if last.accepted() {
                "GENUINE"
            } else {
                "IMPOSTER"
            };
            let colour = if last.accepted() { GENUINE } else { IMPOSTOR };
            ui.label(
                egui::RichText::new(format!("{verdict}  confidence {score:+.3} (threshold 0)"))
                    .size(28.0)
                    .color(colour),
            );
            // −span … +span, the threshold (0) marked in the middle.
            gauge(ui, score, span);
        }
        if self.attempts.is_empty() {
            return;
        }
        let rates = SessionRates::of(&current);
        let percent = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.1} %", 100.0 * r));
        ui.label(format!(
            "this model: {} attempts  FRR {} ({} genuine)  FAR {} ({} imposter)",
            current.len(),
            percent(rates.frr()),
            rates.genuine,
            percent(rates.far()),
            rates.imposter
        ));
        let chart = |name: &str, label: Option<Label>, colour: egui::Color32| {
            let scores: Vec<f64> = current
                .iter()
                .filter(|a| a.label == label)
                .map(|a| a.score)
                .collect();
            let bars = histogram(&scores, -span, span, 20)
                .into_iter()
                .map(|(x, n)| Bar::new(x, n as f64).width(span / 10.0))
                .collect();
            BarChart::new(name, bars).color(colour)
        };
        let charts = [
            chart("genuine", Some(Label::Genuine), egui::Color32::LIGHT_GREEN),
            chart("imposter", Some(Label::Imposter), egui::Color32::LIGHT_RED),
            chart("unlabelled", None, egui::Color32::GRAY),
        ];
        Plot::new("scores")
            .height(200.0)
            .x_axis_label("confidence score")
            .y_axis_label("attempts")
            .legend(egui_plot::Legend::default())
            .show(ui, |plot| {
                for chart in charts {
                    plot.bar_chart(chart);
                }
            });
        self.attempt_list(ui);
    }

    /// Every attempt, newest first, in a grid (nothing moves as scores change width), each
    /// labelled with a click; those of an earlier model are marked.
    fn attempt_list(&mut self, ui: &mut egui::Ui) {
        let model = self.current_model();
        let mut relabel = None;
        egui::ScrollArea::vertical()
            .id_salt("attempts")
            .max_height(160.0)
            .show(ui, |ui| {
                egui::Grid::new("live attempts")
                    .striped(true)
                    .show(ui, |ui| {
                        for (i, live) in self.attempts.iter().enumerate().rev() {
                            let attempt = &live.attempt;
                            ui.monospace(format!("attempt {:<3}", i + 1));
                            ui.monospace(format!("{:+.3}", attempt.score));
                            ui.label(if attempt.accepted() {
                                "accepted"
                            } else {
                                "rejected"
                            });
                            for (label, text) in [
                                (Label::Genuine, "was genuine"),
                                (Label::Imposter, "was imposter"),
                            ] {
                                if ui
                                    .selectable_label(attempt.label == Some(label), text)
                                    .clicked()
                                {
                                    relabel = Some((i, label));
                                }
                            }
                            ui.label(if live.model == model {
                                ""
                            } else {
                                "(an earlier model)"
                            });
                            ui.end_row();
                        }
                    });
            });
        if let Some((i, label)) = relabel {
            self.attempts[i].attempt.label = Some(label);
        }
    }
}
