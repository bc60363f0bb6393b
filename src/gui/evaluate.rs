//! The Evaluate tab: the Killourhy & Maxion protocol on a bundled data set (CMU, MEU-Mobile,
//! keypad) or on the store's users who typed the selected user's phrase (each against the
//! others), for one or several detectors on a worker thread with a progress bar; the EER
//! table, and ROC or DET curves (DET on normal-deviate axes, as in the literature): each
//! detector's mean curve with its equal-error point, and optionally every subject's curve
//! (hover names it); the figure exported as SVG and the table as CSV.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TryRecvError};

use egui::Color32;
use egui_plot::{GridMark, HoverPosition, Legend, Line, Plot, Points};

use super::command::{Status, chosen_path, expect_extension};
use super::state::{Command, EvalJob, EvalOutcome, Workbench};
use keystroke_core::capture;
use keystroke_core::demo::csv_field;
use keystroke_core::detect::DetectorKind;
use keystroke_core::eval::{
    BUNDLED, DET_TICKS, Dataset, Evaluation, FigureCurve, PROBIT_FLOOR, Protocol, SubjectResult,
    equal_error_point, figure_svg, mean_curve, percent, probit, roc_points, store_dataset,
};
use keystroke_core::store::{Store, UserId};

/// Points of a mean curve (false-alarm steps).
const MEAN_STEPS: usize = 200;

/// One colour per detector, in the order chosen.
const PALETTE: [Color32; 8] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(188, 189, 34),
];

/// The label of a DET axis position: the rate whose normal deviate it is, at the marked rates.
pub fn det_tick_label(deviate: f64) -> String {
    DET_TICKS
        .iter()
        .find(|&&rate| (probit(rate) - deviate).abs() < 1e-6)
        .map_or(String::new(), |&rate| percent(rate))
}

/// DET axes are marked at [`DET_TICKS`].
fn det_marks() -> Vec<GridMark> {
    DET_TICKS
        .iter()
        .map(|&rate| GridMark {
            value: probit(rate),
            step_size: 1.0,
        })
        .collect()
}

impl Workbench {
    /// Whether an evaluation is running.
    pub fn evaluating(&self) -> bool {
        self.eval.job.is_some()
    }

    /// The curves the Evaluate tab draws, in plot coordinates: per detector its mean curve
    /// (`(false alarm, miss)` or, on ROC, `(false alarm, hit)`; each rate as its normal
    /// deviate on DET), named by the detector.
    pub fn evaluation_curves(&self) -> Vec<(String, Vec<[f64; 2]>)> {
        let Some(Ok(outcomes)) = &self.eval.outcome else {
            return Vec::new();
        };
        outcomes
            .iter()
            .map(|o| (o.detector.label().to_string(), self.plotted(&o.mean)))
            .collect()
    }

    /// `(false alarm, miss)` pairs as drawn; on DET, up to the first whose miss rate is below
    /// the axis's floor (a zero rate lies at infinity: the rest would run along the floor).
    fn plotted(&self, curve: &[(f64, f64)]) -> Vec<[f64; 2]> {
        let shown = match self.eval.det {
            true => curve
                .iter()
                .position(|&(_, miss)| miss < PROBIT_FLOOR)
                .map_or(curve.len(), |at| at + 1),
            false => curve.len(),
        };
        curve[..shown]
            .iter()
            .map(|&(far, miss)| {
                if self.eval.det {
                    [probit(far), probit(miss)]
                } else {
                    [far, 1.0 - miss]
                }
            })
            .collect()
    }

    /// Starts the evaluation chosen in the tab.
    pub(super) fn evaluate(&mut self) -> Status {
        if self.eval.job.is_some() {
            return None;
        }
        if self.eval.detectors.is_empty() {
            return Some("choose at least one detector to evaluate".into());
        }
        let data = EvalData {
            on_store: self.eval.on_store,
            source: self.eval.source,
            user: self.user.clone(),
            set: self.eval.set.min(BUNDLED.len() - 1),
            train: self.eval.train_samples.max(1),
        };
        let store = Arc::clone(&self.store);
        let detectors = self.eval.detectors.clone();
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (d, t) = (Arc::clone(&done), Arc::clone(&total));
        let spawned = std::thread::Builder::new()
            .name("eval-worker".into())
            .spawn(move || {
                let outcomes = load(&data, &store).and_then(|(set, protocol, title)| {
                    t.store(set.subjects.len() * detectors.len(), Ordering::Relaxed);
                    detectors
                        .iter()
                        .map(|&detector| evaluate(&set, &protocol, &title, detector, &d))
                        .collect()
                });
                let _ = tx.send(outcomes);
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
                    Ok(outcomes) => outcomes
                        .iter()
                        .map(|o| format!("{}: mean EER {:.4}", o.title, o.result.eer_mean))
                        .collect::<Vec<_>>()
                        .join("; "),
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

    /// Writes the figure as drawn (mean curves, ROC or DET) as SVG.
    pub(super) fn export_figure(&mut self) -> Status {
        let Some(Ok(outcomes)) = &self.eval.outcome else {
            return Some("run an evaluation first".into());
        };
        let curves: Vec<FigureCurve> = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let [r, g, b, _] = PALETTE[i % PALETTE.len()].to_array();
                FigureCurve {
                    name: o.detector.label().to_string(),
                    colour: format!("#{r:02x}{g:02x}{b:02x}"),
                    points: o.mean.clone(),
                    eer: o.mean_eer,
                }
            })
            .collect();
        let title = outcomes
            .first()
            .map_or(String::new(), |o| data_title(&o.title));
        let svg = figure_svg(&title, &curves, self.eval.det);
        self.export("figure", "figure.svg", svg)
    }

    /// Writes `contents` to the tab's typed path (or one picked in a dialog).
    fn export(&self, what: &str, default_name: &str, contents: String) -> Status {
        let dialog = || {
            rfd::FileDialog::new()
                .set_file_name(default_name)
                .save_file()
        };
        let extension = default_name.rsplit('.').next().unwrap_or_default();
        let done = chosen_path(&self.eval.path, dialog).and_then(|path| {
            expect_extension(&path, extension)?;
            keystroke_core::store::atomic_write(&path, contents.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(format!("{what} written to {}", path.display()))
        });
        Some(done.unwrap_or_else(|e| e))
    }

    /// Writes the table as CSV: a row per detector and subject, then each detector's means.
    pub(super) fn export_table(&mut self) -> Status {
        let Some(Ok(outcomes)) = &self.eval.outcome else {
            return Some("run an evaluation first".into());
        };
        let mut csv = String::from("detector,subject,eer,zero_miss_far\n");
        for o in outcomes {
            for s in &o.result.subjects {
                csv += &format!(
                    "{},{},{},{}\n",
                    o.detector.id(),
                    csv_field(&s.subject),
                    s.eer,
                    s.zero_miss_far
                );
            }
            csv += &format!(
                "{},mean,{},{}\n",
                o.detector.id(),
                o.result.eer_mean,
                o.result.zero_miss_far_mean
            );
        }
        self.export("table", "evaluation.csv", csv)
    }

    pub(super) fn evaluate_tab(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, set) in BUNDLED.iter().enumerate() {
                if ui
                    .radio(
                        !self.eval.on_store && self.eval.set == i,
                        short_title(set.title),
                    )
                    .clicked()
                {
                    self.eval.on_store = false;
                    if self.eval.set != i {
                        self.eval.set = i;
                        self.eval.train_samples = set.full_train;
                    }
                }
            }
            ui.radio_value(
                &mut self.eval.on_store,
                true,
                "Store users with the selected user's phrase",
            );
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Detectors:");
            for &kind in DetectorKind::ALL {
                let mut on = self.eval.detectors.contains(&kind);
                if ui.checkbox(&mut on, kind.label()).changed() {
                    if on {
                        self.eval.detectors.push(kind);
                    } else {
                        self.eval.detectors.retain(|&k| k != kind);
                    }
                }
            }
        });
        ui.horizontal(|ui| {
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
                let full = BUNDLED[self.eval.set.min(BUNDLED.len() - 1)].full_train;
                let label = ui.label("Training samples:");
                ui.add(egui::DragValue::new(&mut self.eval.train_samples).range(1..=full))
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
                job.total.load(Ordering::Relaxed),
            );
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(if total == 0 {
                    "loading the data set…".to_string()
                } else {
                    format!("subjects: {done} of {total}")
                }),
            );
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        match &self.eval.outcome {
            None => {}
            Some(Err(e)) => {
                ui.colored_label(Color32::LIGHT_RED, e);
            }
            Some(Ok(_)) => {
                // Taken out while drawn (the view needs the rest of the workbench), not copied.
                if let Some(Ok(outcomes)) = self.eval.outcome.take() {
                    self.outcome_view(ui, &outcomes);
                    self.eval.outcome = Some(Ok(outcomes));
                }
            }
        }
    }

    fn outcome_view(&mut self, ui: &mut egui::Ui, outcomes: &[EvalOutcome]) {
        if let Some(first) = outcomes.first() {
            ui.heading(data_title(&first.title));
        }
        egui::Grid::new("eer").striped(true).show(ui, |ui| {
            for heading in [
                "detector",
                "mean EER",
                "sd",
                "zero-miss FAR",
                "mean curve's EER",
            ] {
                ui.strong(heading);
            }
            ui.end_row();
            for (i, o) in outcomes.iter().enumerate() {
                ui.colored_label(PALETTE[i % PALETTE.len()], o.detector.label());
                ui.label(format!("{:.4}", o.result.eer_mean));
                ui.label(format!("{:.4}", o.result.eer_sd));
                ui.label(format!("{:.4}", o.result.zero_miss_far_mean));
                ui.label(o.mean_eer.map_or("-".into(), |e| format!("{e:.4}")));
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            ui.checkbox(
                &mut self.eval.det,
                "DET (miss rate) instead of ROC (hit rate)",
            );
            ui.checkbox(&mut self.eval.each_subject, "each subject's curve");
        });
        ui.horizontal(|ui| {
            let label = ui.label("Export to:");
            ui.add(egui::TextEdit::singleline(&mut self.eval.path).desired_width(360.0))
                .labelled_by(label.id);
            if ui.button("Export figure (SVG)").clicked() {
                self.commands.push(Command::ExportFigure);
            }
            if ui.button("Export table (CSV)").clicked() {
                self.commands.push(Command::ExportTable);
            }
        });
        let det = self.eval.det;
        let mut plot = Plot::new("roc")
            .height(340.0)
            .legend(Legend::default())
            .x_axis_label("false-alarm rate (genuine rejected)")
            .y_axis_label(if det {
                "miss rate (impostors accepted)"
            } else {
                "hit rate (impostors caught)"
            })
            // Hover names the curve (a detector's mean, or a subject's) and its rates.
            .label_formatter(move |hover| match hover {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => {
                    let rate = |v: f64| if det { phi(v) } else { v };
                    Some(format!(
                        "{plot_name}\nfalse alarm {:.1} %, {} {:.1} %",
                        100.0 * rate(position.x),
                        if det { "miss" } else { "hit" },
                        100.0 * rate(position.y)
                    ))
                }
                HoverPosition::Elsewhere { .. } => None,
            });
        if det {
            let (low, high) = (probit(PROBIT_FLOOR), probit(1.0 - PROBIT_FLOOR));
            plot = plot
                .x_grid_spacer(|_| det_marks())
                .y_grid_spacer(|_| det_marks())
                .x_axis_formatter(|mark, _| det_tick_label(mark.value))
                .y_axis_formatter(|mark, _| det_tick_label(mark.value))
                .include_x(low)
                .include_x(high)
                .include_y(low)
                .include_y(high);
        }
        let each_subject = self.eval.each_subject;
        plot.show(ui, |plot| {
            for (i, o) in outcomes.iter().enumerate() {
                let colour = PALETTE[i % PALETTE.len()];
                if each_subject {
                    for (subject, points) in &o.curves {
                        let curve: Vec<(f64, f64)> =
                            points.iter().map(|p| (p.false_alarm, p.miss)).collect();
                        let name = if outcomes.len() > 1 {
                            format!("{} {subject}", o.detector.label())
                        } else {
                            subject.clone()
                        };
                        plot.line(
                            Line::new(name, self.plotted(&curve))
                                .color(colour.gamma_multiply(0.35))
                                .width(1.0),
                        );
                    }
                }
                plot.line(
                    Line::new(o.detector.label(), self.plotted(&o.mean))
                        .color(colour)
                        .width(2.5),
                );
                if let Some(eer) = o.mean_eer {
                    plot.points(
                        Points::new(
                            format!("{} EER {eer:.3}", o.detector.label()),
                            self.plotted(&[(eer, eer)]),
                        )
                        .radius(5.0)
                        .color(colour),
                    );
                }
            }
        });
        egui::CollapsingHeader::new("Per-subject EER").show(ui, |ui| {
            for o in outcomes {
                for s in &o.result.subjects {
                    ui.monospace(format!(
                        "{:<28} {:<24} EER {:.4}  zero-miss FAR {:.4}",
                        o.detector.label(),
                        s.subject,
                        s.eer,
                        s.zero_miss_far
                    ));
                }
            }
        });
    }
}

/// Φ(v), the standard normal distribution function (for hover labels on DET axes).
fn phi(v: f64) -> f64 {
    // Abramowitz & Stegun 7.1.26 via erf; ample for a hover label.
    let z = v / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    0.5 * (1.0 + if z >= 0.0 { erf } else { -erf })
}

/// A set's title without its parenthesis: "CMU benchmark".
fn short_title(title: &str) -> &str {
    title.split(" (").next().unwrap_or(title)
}

/// The data part of an outcome's title ("CMU benchmark, 200 training samples").
fn data_title(title: &str) -> String {
    title
        .split_once(": ")
        .map_or(title.to_string(), |(_, data)| data.to_string())
}

/// What an evaluation runs on.
struct EvalData {
    /// The store's users rather than a bundled set.
    on_store: bool,
    /// On the store: only this source's samples.
    source: Option<&'static str>,
    /// Whose phrase (on the store).
    user: Option<UserId>,
    /// The bundled set (an index into [`BUNDLED`]).
    set: usize,
    /// Training samples (bundled sets).
    train: usize,
}

/// The data set chosen and its protocol, with a title for the figure.
fn load(on: &EvalData, store: &Store) -> Result<(Dataset, Protocol, String), String> {
    if on.on_store {
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
        Ok((data, protocol, title))
    } else {
        let set = BUNDLED[on.set];
        let train = on.train.min(set.full_train);
        let data = set.load().map_err(|e| e.to_string())?;
        let title = format!("{}, {train} training samples", short_title(set.title));
        Ok((data, set.protocol(train, None), title))
    }
}

/// Runs one detector's evaluation on `data`, counting subjects in `done`.
fn evaluate(
    data: &Dataset,
    protocol: &Protocol,
    title: &str,
    detector: DetectorKind,
    done: &AtomicUsize,
) -> Result<EvalOutcome, String> {
    let params = detector.default_params().for_ranking();
    let evaluation =
        Evaluation::new(data, protocol.clone(), params, &[0]).map_err(|e| e.to_string())?;
    let mut curves = Vec::new();
    let mut subjects = Vec::new();
    for i in 0..evaluation.n_subjects() {
        let scores = evaluation.subject_scores(i, 0).map_err(|e| e.to_string())?;
        let id = data.subjects[i].id.clone();
        curves.push((id.clone(), roc_points(&scores.genuine, &scores.impostor)));
        subjects.push(SubjectResult::of(id, &[scores]));
        done.fetch_add(1, Ordering::Relaxed);
    }
    let each: Vec<&[_]> = curves.iter().map(|(_, c)| c.as_slice()).collect();
    let mean = mean_curve(&each, MEAN_STEPS);
    Ok(EvalOutcome {
        title: format!("{}: {title}", detector.label()),
        detector,
        result: evaluation.summarise(subjects),
        mean_eer: equal_error_point(&mean),
        mean,
        curves,
    })
}
