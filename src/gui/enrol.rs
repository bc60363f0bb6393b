//! The Enrol tab: the phrase with the keys typed so far, enrolment progress, pending samples.

use super::state::{Command, Workbench};

impl Workbench {
    pub(super) fn enrol_tab(&mut self, ui: &mut egui::Ui) {
        let Some(user) = self.user.clone() else {
            ui.label(
                "Choose or create a user above, arm capture, then type the phrase and press Enter.",
            );
            return;
        };
        let stored = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .map_or(0, |m| m.samples);
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
                            "Delete {user} and all {stored} samples, the model and the lockout \
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
                if stored > 0 && ui.button("Delete user…").clicked() {
                    self.commands.push(Command::AskDelete);
                }
            }
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.settings.auto_accept, "Store samples at once");
            let label = ui.label("Enrolment goal:");
            ui.add(egui::DragValue::new(&mut self.settings.min_samples).range(1..=400))
                .labelled_by(label.id);
        });
        if let Some(view) = &self.view
            && view.features.nrows() > 0
        {
            ui.separator();
            ui.label("Stored samples, newest first (hold ms per key):");
            let rows = view.features.nrows();
            for (i, row) in view.features.rows().into_iter().enumerate().rev().take(10) {
                let holds: Vec<String> = row.iter().step_by(3).map(|v| format!("{v:.0}")).collect();
                ui.monospace(format!("#{:<4} {}", i + 1, holds.join(" ")));
            }
            if rows > 10 {
                ui.label(format!("… and {} older", rows - 10));
            }
        }
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
    }
}
