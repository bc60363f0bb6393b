//! The Demo tab: a live impostor demo that reads from across a room — the verdict in large
//! coloured letters, a gauge with the threshold marked, the timings that gave an attempt away
//! against the user's band, labels set in advance ("the next 5 are carol, an impostor"), every
//! attempt's score over the demo, the demo's FAR and FRR, and the attempts saved, reopened and
//! exported. It judges as /predict does and never enrols.

use chrono::Local;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, HLine, Plot, Points};

use super::command::{Status, chosen_path, expect_extension};
use super::gauge::{GENUINE, IMPOSTOR, gauge};
use super::plots::position_label;
use super::state::{Command, Workbench};
use super::testing::score_span;
use keystroke_core::auth::Rejection;
use keystroke_core::capture::Sample;
use keystroke_core::demo::{DemoAttempt, DemoSession, deviations, gave_away};
use keystroke_core::detect::SecurityLevel;
use keystroke_core::eval::Label;
use keystroke_core::features::Features;
use keystroke_core::store::UserId;

/// Timings named under "gave it away".
const SHOWN_DEVIATIONS: usize = 3;

fn label_name(label: Option<Label>) -> &'static str {
    match label {
        Some(Label::Genuine) => "genuine",
        Some(Label::Imposter) => "impostor",
        None => "unlabelled",
    }
}

fn label_colour(label: Option<Label>) -> Color32 {
    match label {
        Some(Label::Genuine) => GENUINE,
        Some(Label::Imposter) => IMPOSTOR,
        None => Color32::GRAY,
    }
}

impl Workbench {
    /// Judges a demo attempt, labels it from the labels set in advance, and explains it.
    pub(super) fn demo_attempt(&mut self, user: &UserId, sample: Sample) -> Status {
        let (verdict, status) = match self.judge(user, &sample) {
            Ok(judged) => judged,
            Err(why) => return Some(why),
        };
        // A mistyped phrase was no attempt at the rhythm: it neither takes a label nor counts
        // in the demo's rates (the server would still count it toward a lockout).
        if verdict.rejection == Some(Rejection::PhraseMismatch) {
            return Some(format!(
                "{status}: not counted in the demo; the next label waits"
            ));
        }
        let features = Features::of(&sample);
        let _ = self.refresh_view();
        self.demo.deviations = self
            .view
            .as_ref()
            .and_then(|v| Some((v.features.view(), v.metadata.as_ref()?)))
            .filter(|(_, m)| m.key_sequence == features.key_sequence)
            .map_or(Vec::new(), |(rows, m)| {
                deviations(rows, &m.key_sequence, &features.values_ms)
            });
        let (label, typist) = self
            .demo
            .queue
            .pop_front()
            .map_or((None, None), |(label, typist)| {
                (Some(label), (!typist.is_empty()).then_some(typist))
            });
        let attempts = &mut self.demo.session.attempts;
        attempts.push(DemoAttempt {
            number: attempts.len() + 1,
            at: Local::now().naive_local().into(),
            score: verdict.score,
            accepted: verdict.accepted(),
            reason: verdict.rejection.map(|r| r.reason().to_string()),
            label,
            typist,
            security_level: verdict.level,
            keystroke_data: sample.events().to_vec(),
        });
        let number = attempts.len();
        let kept = self.keep_demo().unwrap_or_default();
        Some(format!("attempt {number}: {status}{kept}"))
    }

    /// Labels demo attempt `index` (from 0) after the fact.
    pub(super) fn label_demo_attempt(&mut self, index: usize, label: Label) -> Status {
        let attempt = self.demo.session.attempts.get_mut(index)?;
        attempt.label = Some(label);
        let kept = self.keep_demo().unwrap_or_default();
        Some(format!(
            "attempt {} labelled {}{kept}",
            index + 1,
            label_name(Some(label))
        ))
    }

    /// Writes the demo again to the file it was saved to or opened from, if any; says where,
    /// or why it could not (the attempts stay in the window either way).
    pub(super) fn keep_demo(&mut self) -> Status {
        let path = self.demo.kept_in.as_ref()?;
        Some(match self.demo.session.write(path) {
            Ok(()) => format!(" (saved to {})", path.display()),
            Err(e) => format!(" (NOT saved: {e})"),
        })
    }

    /// Sets the labels of the next attempts (the tab's count, label and typist).
    pub(super) fn queue_labels(&mut self) -> Status {
        let demo = &mut self.demo;
        let typist = demo.next_typist.trim().to_string();
        for _ in 0..demo.next_count {
            demo.queue.push_back((demo.next_label, typist.clone()));
        }
        Some(format!(
            "the next {} attempts are labelled {}{}",
            demo.next_count,
            label_name(Some(demo.next_label)),
            if typist.is_empty() {
                String::new()
            } else {
                format!(" ({typist})")
            }
        ))
    }

    pub(super) fn save_demo(&mut self) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .set_file_name("demo.json")
                .save_file()
        };
        let done = chosen_path(&self.demo.path, dialog).and_then(|path| {
            expect_extension(&path, "json")?;
            // Never over another demo (another user's, or another of this user's).
            if path.exists() {
                let existing = DemoSession::read(&path).map_err(|e| {
                    format!(
                        "not saved: {} exists and is not a demo ({e})",
                        path.display()
                    )
                })?;
                if !self.demo.session.extends(&existing) {
                    return Err(format!(
                        "not saved: {} holds another demo ({} attempts against {}); choose \
                         another file",
                        path.display(),
                        existing.attempts.len(),
                        existing.user_id
                    ));
                }
            }
            self.demo.session.write(&path).map_err(|e| e.to_string())?;
            let saved = format!(
                "{} demo attempts saved to {}; every later attempt is saved there too",
                self.demo.session.attempts.len(),
                path.display()
            );
            self.demo.kept_in = Some(path);
            Ok(saved)
        });
        Some(done.unwrap_or_else(|e| e))
    }

    /// Opens a saved demo, selecting its user.
    pub(super) fn open_demo(&mut self) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .add_filter("demo", &["json"])
                .pick_file()
        };
        let done = chosen_path(&self.demo.path, dialog).and_then(|path| {
            let session = DemoSession::read(&path).map_err(|e| e.to_string())?;
            let user = UserId::parse(&session.user_id)
                .map_err(|e| format!("{}: its user_id is not valid: {e}", path.display()))?;
            if self.user.as_ref() != Some(&user) {
                let _ = self.select(user);
            }
            let n = session.attempts.len();
            self.demo.session = session;
            self.demo.deviations.clear();
            let opened = format!(
                "{n} demo attempts opened from {}; new attempts are added and saved there",
                path.display()
            );
            self.demo.kept_in = Some(path);
            Ok(opened)
        });
        Some(done.unwrap_or_else(|e| e))
    }

    pub(super) fn export_demo(&mut self) -> Status {
        let dialog = || rfd::FileDialog::new().set_file_name("demo.csv").save_file();
        let done = chosen_path(&self.demo.path, dialog).and_then(|path| {
            expect_extension(&path, "csv")?;
            self.demo
                .session
                .export_csv(&path)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "{} demo attempts exported to {}",
                self.demo.session.attempts.len(),
                path.display()
            ))
        });
        Some(done.unwrap_or_else(|e| e))
    }

    pub(super) fn demo_tab(&mut self, ui: &mut egui::Ui) {
        let Some(user) = self.user.clone() else {
            ui.label("Choose a user with a trained model above, arm capture, then type.");
            return;
        };
        let model = self
            .view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .and_then(|m| m.trained_detector());
        ui.label(match model {
            Some(kind) => format!(
                "Type the phrase: {user}'s {} model judges it, as /predict would; nothing typed \
                 here is enrolled.",
                kind.label()
            ),
            None => format!("{user} has no trained model: train one (Enrol or Train & test)."),
        });
        // The controls first (a presenter sets labels before the attempts), then the verdict
        // and why it fell, all within the window's first screen.
        self.label_queue_row(ui);
        ui.horizontal(|ui| {
            let label = ui.label("Demo file:");
            ui.add(egui::TextEdit::singleline(&mut self.demo.path).desired_width(360.0))
                .labelled_by(label.id);
            for (text, command) in [
                ("Save demo (JSON)", Command::SaveDemo),
                ("Open demo", Command::OpenDemo),
                ("Export CSV", Command::ExportDemo),
            ] {
                if ui.button(text).clicked() {
                    self.commands.push(command);
                }
            }
        });
        // Below the controls: its banner's length changes when it is switched off.
        self.throttling_row(ui);
        self.verdict_panel(ui);
        self.why_panel(ui);
        self.score_plot(ui);
        self.attempt_table(ui);
    }

    /// The newest verdict in letters a room can read, and the gauge.
    fn verdict_panel(&self, ui: &mut egui::Ui) {
        let last = self.demo.session.attempts.last();
        let (text, fill) = match last {
            None => ("WAITING FOR AN ATTEMPT".to_string(), Color32::from_gray(60)),
            Some(a) if a.accepted => ("ACCEPTED".to_string(), GENUINE),
            Some(_) => ("REJECTED".to_string(), IMPOSTOR),
        };
        let detail = last.map_or(String::new(), |a| {
            format!(
                "attempt {}  score {:+.3}  {}{}{}",
                a.number,
                a.score,
                label_name(a.label),
                a.typist
                    .as_ref()
                    .map_or(String::new(), |t| format!(" ({t})")),
                a.security_level
                    .map_or(String::new(), |level| format!("  at {level}"))
            )
        });
        egui::Frame::new()
            .fill(fill)
            .corner_radius(6.0)
            .inner_margin(12.0)
            .show(ui, |ui| {
                ui.set_min_width(ui.available_width());
                ui.vertical_centered(|ui| {
                    ui.label(
                        RichText::new(text)
                            .size(64.0)
                            .strong()
                            .color(Color32::WHITE),
                    );
                    ui.label(RichText::new(detail).size(20.0).color(Color32::WHITE));
                });
            });
        if let Some(a) = last {
            gauge(ui, a.score, self.demo_span());
        }
    }

    /// Scores are drawn over ±this.
    fn demo_span(&self) -> f64 {
        score_span(self.demo.session.attempts.iter().map(|a| a.score))
    }

    /// Which timings gave the newest attempt away: each timing's deviation in spreads from
    /// the user's samples, the band of typical timings marked.
    fn why_panel(&self, ui: &mut egui::Ui) {
        let deviations = &self.demo.deviations;
        if deviations.is_empty() {
            return;
        }
        let worst = gave_away(deviations, SHOWN_DEVIATIONS);
        let accepted = self
            .demo
            .session
            .attempts
            .last()
            .is_some_and(|a| a.accepted);
        let text = if worst.is_empty() {
            "every timing lies within the user's band".to_string()
        } else {
            let lead = if accepted {
                "accepted, though unlike the user"
            } else {
                "gave it away"
            };
            let named: Vec<String> = worst
                .iter()
                .map(|d| {
                    format!(
                        "{} {:.0} ms (usually {:.0}, {:+.1} spreads)",
                        d.feature, d.value_ms, d.centre_ms, d.z
                    )
                })
                .collect();
            format!("{lead}: {}", named.join("; "))
        };
        ui.label(RichText::new(text).size(18.0));
        let names: Vec<String> = deviations.iter().map(|d| d.feature.clone()).collect();
        let bars = deviations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let colour = if d.gave_away() { IMPOSTOR } else { GENUINE };
                Bar::new((i + 1) as f64, d.z.clamp(-20.0, 20.0))
                    .width(0.7)
                    .fill(colour)
                    .name(&d.feature)
            })
            .collect();
        Plot::new("deviation")
            .height(140.0)
            .y_axis_label("spreads from the user")
            .x_axis_formatter(move |mark, _| position_label(&names, mark.value))
            .show(ui, |plot| {
                let band = keystroke_core::auth::TYPICAL_Z;
                for y in [-band, band] {
                    plot.hline(HLine::new("the user's band", y).color(Color32::GRAY));
                }
                plot.bar_chart(BarChart::new("deviation", bars));
            });
    }

    /// "Label the next N attempts as … typed by …", and the labels waiting.
    fn label_queue_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Label the next");
            ui.add(egui::DragValue::new(&mut self.demo.next_count).range(1..=100))
                .labelled_by(label.id);
            ui.label("attempts as");
            ui.radio_value(&mut self.demo.next_label, Label::Genuine, "genuine");
            ui.radio_value(&mut self.demo.next_label, Label::Imposter, "impostor");
            let label = ui.label("typed by");
            ui.add(egui::TextEdit::singleline(&mut self.demo.next_typist).desired_width(120.0))
                .labelled_by(label.id);
            if ui.button("Set labels").clicked() {
                self.commands.push(Command::QueueLabels);
            }
        });
        ui.horizontal(|ui| {
            let waiting = &self.demo.queue;
            let mut runs: Vec<(Label, &str, usize)> = Vec::new();
            for (label, typist) in waiting {
                match runs.last_mut() {
                    Some((l, t, n)) if l == label && t == typist => *n += 1,
                    _ => runs.push((*label, typist, 1)),
                }
            }
            let text: Vec<String> = runs
                .iter()
                .map(|(label, typist, n)| {
                    let who = if typist.is_empty() {
                        String::new()
                    } else {
                        format!(" ({typist})")
                    };
                    format!("{n} {}{who}", label_name(Some(*label)))
                })
                .collect();
            ui.label(if text.is_empty() {
                "no labels set in advance: label attempts below".to_string()
            } else {
                format!("labels waiting: {}", text.join(", then "))
            });
            if !waiting.is_empty() && ui.button("Forget").clicked() {
                self.commands.push(Command::ClearQueue);
            }
        });
    }

    /// Every attempt's score, coloured by label, and the threshold; the demo's error rates.
    fn score_plot(&self, ui: &mut egui::Ui) {
        let attempts = &self.demo.session.attempts;
        if attempts.is_empty() {
            return;
        }
        let rates = self.demo.session.rates();
        let percent = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.0} %", 100.0 * r));
        ui.label(
            RichText::new(format!(
                "FAR {} of {} impostor attempts   FRR {} of {} genuine",
                percent(rates.far()),
                rates.imposter,
                percent(rates.frr()),
                rates.genuine
            ))
            .size(18.0),
        );
        let span = self.demo_span();
        Plot::new("demo scores")
            .height(130.0)
            .x_axis_label("attempt")
            .y_axis_label("score")
            .legend(egui_plot::Legend::default())
            .include_y(-span)
            .include_y(span)
            .show(ui, |plot| {
                plot.hline(HLine::new("threshold", 0.0).color(Color32::WHITE));
                for label in [Some(Label::Genuine), Some(Label::Imposter), None] {
                    let points: Vec<[f64; 2]> = attempts
                        .iter()
                        .filter(|a| a.label == label)
                        .map(|a| [a.number as f64, a.score.clamp(-span, span)])
                        .collect();
                    plot.points(
                        Points::new(label_name(label), points)
                            .radius(5.0)
                            .color(label_colour(label)),
                    );
                }
            });
    }

    /// The attempts, newest first, each labelled (or relabelled) with a click.
    fn attempt_table(&mut self, ui: &mut egui::Ui) {
        let mut command = None;
        egui::Grid::new("demo attempts")
            .striped(true)
            .show(ui, |ui| {
                for (i, a) in self.demo.session.attempts.iter().enumerate().rev() {
                    ui.monospace(format!("#{:<3}", a.number));
                    ui.monospace(format!("{:+.3}", a.score));
                    ui.label(if a.accepted { "accepted" } else { "rejected" });
                    ui.label(a.security_level.map_or("", SecurityLevel::id));
                    ui.label(a.typist.clone().unwrap_or_default());
                    for label in [Label::Genuine, Label::Imposter] {
                        if ui
                            .selectable_label(a.label == Some(label), label_name(Some(label)))
                            .clicked()
                        {
                            command = Some(Command::LabelDemoAttempt(i, label));
                        }
                    }
                    ui.end_row();
                }
            });
        self.commands.extend(command);
    }
}
