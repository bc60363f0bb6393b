//! The Enrol tab: the phrase with the keys typed so far, enrolment progress, pending samples.

use super::state::{Command, Workbench};
use keystroke_core::capture::source::{MAX_LABEL_CHARS, MAX_NOTES_CHARS};

impl Workbench {
    pub(super) fn enrol_tab(&mut self, ui: &mut egui::Ui) {
        let Some(user) = self.user.clone() else {
            ui.label(
                "Choose or create a user above, arm capture, then type the phrase and press Enter.",
            );
            return;
        };
        // Samples in use (an excluded one does not count toward the goal), every sample kept,
        // and whether a model is trained.
        let (stored, kept, trained) = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .map_or((0, 0, false), |m| {
                (m.active_samples(), m.samples, m.trained_at.is_some())
            });
        let phrase: Option<Vec<String>> = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .map(|m| m.key_sequence.clone())
            .or_else(|| {
                self.pending
                    .first()
                    .map(|p| p.features.key_sequence.clone())
            });
        ui.heading(format!("Enrolling {user}"));
        let typed: Vec<String> = self
            .recorder
            .typed()
            .into_iter()
            .map(String::from)
            .collect();
        match &phrase {
            None => {
                ui.label("The first sample sets the phrase: type it and press Enter.");
            }
            Some(keys) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label("Phrase:");
                    for (i, key) in keys.iter().enumerate() {
                        let done = typed.get(i) == Some(key);
                        let wrong = typed.get(i).is_some_and(|t| t != key);
                        let text = egui::RichText::new(key).monospace();
                        ui.label(if wrong {
                            text.color(egui::Color32::RED).strong()
                        } else if done {
                            text.color(egui::Color32::LIGHT_GREEN).strong()
                        } else {
                            text.weak()
                        });
                    }
                });
            }
        }
        if !typed.is_empty() {
            ui.label(format!("Typing: {}", typed.join(" ")));
        }
        let goal = self.settings.min_samples.max(1);
        ui.add(
            egui::ProgressBar::new((stored as f32 / goal as f32).min(1.0))
                .text(format!("samples: {stored} of {goal}")),
        );
        match &self.confirm_delete {
            Some(doomed) if *doomed == user => {
                ui.horizontal(|ui| {
                    ui.label(
                        egui::RichText::new(format!(
                            "Delete {user} and all {kept} samples, the model and the lockout \
                             state? This cannot be undone."
                        ))
                        .color(egui::Color32::LIGHT_RED),
                    );
                    if ui.button(format!("Delete {user}")).clicked() {
                        self.commands.push(Command::ConfirmDelete);
                    }
                    if ui.button("Cancel").clicked() {
                        self.commands.push(Command::CancelDelete);
                    }
                });
            }
            _ => {
                ui.horizontal(|ui| {
                    if kept > 0 && ui.button("Delete user…").clicked() {
                        self.commands.push(Command::AskDelete);
                    }
                    if stored >= goal
                        && !trained
                        && self.training.is_none()
                        && ui
                            .button(format!(
                                "Goal reached: train {} now",
                                self.settings.detector.label()
                            ))
                            .clicked()
                    {
                        self.commands.push(Command::Train);
                    }
                });
            }
        }
        // The participant record, stored with every sample accepted from now on.
        ui.horizontal(|ui| {
            let form = &mut self.session;
            for (name, text, width, limit) in [
                ("Session:", &mut form.session, 110.0, MAX_LABEL_CHARS),
                (
                    "Device / keyboard:",
                    &mut form.device,
                    150.0,
                    MAX_LABEL_CHARS,
                ),
                ("Notes:", &mut form.notes, 260.0, MAX_NOTES_CHARS),
            ] {
                let label = ui.label(name);
                ui.add(
                    egui::TextEdit::singleline(text)
                        .desired_width(width)
                        .char_limit(limit),
                )
                .labelled_by(label.id);
            }
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.settings.auto_accept, "Store samples at once");
            let label = ui.label("Enrolment goal:");
            ui.add(egui::DragValue::new(&mut self.settings.min_samples).range(1..=400))
                .labelled_by(label.id);
        });
        // Pending samples first: they wait for the operator.
        if !self.pending.is_empty() {
            ui.separator();
            ui.horizontal(|ui| {
                ui.label(format!(
                    "{} pending samples (hold / down-down / up-down in ms):",
                    self.pending.len()
                ));
                if ui.button("Accept all").clicked() {
                    self.commands.push(Command::AcceptAll);
                }
                if ui.button("Discard all").clicked() {
                    self.commands.push(Command::DiscardAll);
                }
            });
        }
        for (i, pending) in self.pending.iter().enumerate() {
            ui.horizontal(|ui| {
                let values: Vec<String> = pending
                    .features
                    .values_ms
                    .iter()
                    .take(9)
                    .map(|v| format!("{v:.0}"))
                    .collect();
                ui.label(format!("#{} {} …", i + 1, values.join(" ")));
                if ui.button("Accept").clicked() {
                    self.commands.push(Command::Accept(i));
                }
                if ui.button("Discard").clicked() {
                    self.commands.push(Command::Discard(i));
                }
            });
        }
        ui.separator();
        self.undo_row(ui);
        self.sample_table(ui);
    }

    /// The Undo button (always in the same place) and what it would undo.
    fn undo_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let last = self.undo.last().map(|u| u.what.clone());
            if ui
                .add_enabled(last.is_some(), egui::Button::new("Undo"))
                .clicked()
            {
                self.commands.push(Command::Undo);
            }
            ui.label(last.map_or("nothing to undo".into(), |what| format!("the {what}")));
        });
    }

    /// Every stored sample, newest first: its mean timings, consistency with the samples in
    /// use, an outlier flag, and Exclude or Restore.
    fn sample_table(&mut self, ui: &mut egui::Ui) {
        let Some(view) = &self.view else {
            return;
        };
        if view.table.is_empty() {
            return;
        }
        ui.label(
            "Stored samples, newest first (mean ms). An excluded sample is kept but not \
             trained on, counted or exported; Restore or Undo puts it back.",
        );
        let mut command = None;
        egui::Grid::new("samples")
            .striped(true)
            .num_columns(9)
            .show(ui, |ui| {
                for heading in [
                    "#",
                    "session",
                    "source",
                    "hold",
                    "down-down",
                    "up-down",
                    "consistency",
                ] {
                    ui.strong(heading);
                }
                ui.strong("");
                ui.strong("");
                ui.end_row();
                for row in view.table.iter().rev() {
                    let text = |t: String| {
                        let text = egui::RichText::new(t).monospace();
                        if row.excluded {
                            text.weak().strikethrough()
                        } else {
                            text
                        }
                    };
                    ui.label(text(row.number.to_string()));
                    ui.label(text(row.session.clone().unwrap_or_default()));
                    ui.label(text(row.source.clone()));
                    for mean in row.means_ms {
                        ui.label(text(format!("{mean:.1}")));
                    }
                    ui.label(text(
                        row.consistency.map_or("-".into(), |c| format!("{c:.2}")),
                    ));
                    ui.label(match (row.excluded, row.outlier) {
                        (true, _) => egui::RichText::new("excluded").weak(),
                        (false, true) => {
                            egui::RichText::new("unlike the others").color(egui::Color32::ORANGE)
                        }
                        (false, false) => egui::RichText::new(""),
                    });
                    let (label, excluded) = if row.excluded {
                        ("Restore", false)
                    } else {
                        ("Exclude", true)
                    };
                    let button = egui::Button::new(label).min_size(egui::vec2(64.0, 0.0));
                    if ui.add(button).clicked() {
                        command = Some(Command::SetExcluded {
                            number: row.number,
                            excluded,
                        });
                    }
                    ui.end_row();
                }
            });
        self.commands.extend(command);
    }
}
