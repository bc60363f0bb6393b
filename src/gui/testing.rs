//! The Train & test tab: choose a detector, train on a worker thread, then a live test where
//! anyone types the phrase, the model judges, and the operator labels each attempt.

use std::sync::mpsc;

use chrono::Local;
use egui_plot::{Bar, BarChart, Plot};

use super::command::Status;
use super::server_panel::demo_banner;
use super::state::{Command, Workbench};
use keystroke_core::auth::Throttle;
use keystroke_core::detect::DetectorKind;
use keystroke_core::eval::{Label, SessionRates, histogram};

impl Workbench {
    /// Half the width of the score axis: 0.5 (the isolation forest's scale) or, for detectors
    /// whose decisions spread further, the largest |score| seen, rounded up to a whole number.
    fn score_span(&self) -> f64 {
        let largest = self
            .attempts
            .iter()
            .map(|a| a.score.abs())
            .filter(|s| s.is_finite())
            .fold(0.0, f64::max);
        if largest <= 0.5 { 0.5 } else { largest.ceil() }
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
            .and_then(|m| m.detector.zip(m.trained_at));
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
        ui.horizontal(|ui| {
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
        if let Some(last) = self.attempts.last() {
            let score = last.score;
            let verdict = if last.accepted() {
                "GENUINE"
            } else {
                "IMPOSTER"
            };
            let colour = if last.accepted() {
                egui::Color32::LIGHT_GREEN
            } else {
                egui::Color32::LIGHT_RED
            };
            ui.label(
                egui::RichText::new(format!("{verdict}  {score:+.3}"))
                    .size(28.0)
                    .color(colour),
            );
            // Gauge: −span … +span mapped onto the bar, 0 (the threshold) in the middle.
            let span = self.score_span();
            ui.add(
                egui::ProgressBar::new((((score + span) / (2.0 * span)) as f32).clamp(0.0, 1.0))
                    .text(format!("confidence {score:+.3} (threshold 0)")),
            );
        }
        let mut relabel = None;
        for (i, attempt) in self.attempts.iter().enumerate().rev().take(12) {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "attempt {}: {:+.3} {}",
                    i + 1,
                    attempt.score,
                    if attempt.accepted() {
                        "accepted"
                    } else {
                        "rejected"
                    }
                ));
                let label = attempt.label;
                if ui
                    .selectable_label(label == Some(Label::Genuine), "was genuine")
                    .clicked()
                {
                    relabel = Some((i, Label::Genuine));
                }
                if ui
                    .selectable_label(label == Some(Label::Imposter), "was imposter")
                    .clicked()
                {
                    relabel = Some((i, Label::Imposter));
                }
            });
        }
        if let Some((i, label)) = relabel {
            self.attempts[i].label = Some(label);
        }
        if self.attempts.is_empty() {
            return;
        }
        let rates = SessionRates::of(&self.attempts);
        let percent = |r: Option<f64>| r.map_or("–".into(), |r| format!("{:.1} %", 100.0 * r));
        ui.label(format!(
            "attempts: {}  FRR {} ({} genuine)  FAR {} ({} imposter)",
            self.attempts.len(),
            percent(rates.frr()),
            rates.genuine,
            percent(rates.far()),
            rates.imposter
        ));
        let span = self.score_span();
        let chart = |name: &str, label: Option<Label>, colour: egui::Color32| {
            let scores: Vec<f64> = self
                .attempts
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
    }
}
