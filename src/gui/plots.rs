//! The Timings tab: hold, down-down and up-down per key position; the user's mean ± sd band
//! with the latest (or a chosen) sample over it; ms or log scale.

use egui_plot::{FilledArea, Line, Plot, PlotPoints, Points};

use super::state::{Kind, Workbench};
use keystroke_core::features::{FeatureKind, column_stats, feature_kind};

impl Kind {
    fn matches(self, kind: FeatureKind) -> bool {
        matches!(
            (self, kind),
            (Kind::Hold, FeatureKind::Hold)
                | (Kind::DownDown, FeatureKind::DownDown)
                | (Kind::UpDown, FeatureKind::UpDown)
        )
    }
}

/// The series of one plot: per key position, the band (mean − sd, mean + sd), the mean and the
/// chosen sample, in plot units (ms or log10 ms).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Key positions (1-based).
    pub x: Vec<f64>,
    /// What each position times: its key (`p`), or the pair of keys (`p→a`).
    pub labels: Vec<String>,
    /// Band bottom.
    pub low: Vec<f64>,
    /// Band top.
    pub high: Vec<f64>,
    /// Mean.
    pub mean: Vec<f64>,
    /// The chosen sample.
    pub sample: Vec<f64>,
    /// Every sample (when [`PlotState::all_samples`] is on).
    pub all: Vec<Vec<f64>>,
}

/// The axis label at `value` of a plot whose positions 1, 2, … are named `labels` (nothing
/// between positions).
pub(super) fn position_label(labels: &[String], value: f64) -> String {
    let position = value.round();
    let named = (value - position).abs() < 1e-6 && position >= 1.0;
    named
        .then(|| labels.get(position as usize - 1).cloned())
        .flatten()
        .unwrap_or_default()
}

impl Workbench {
    /// The plotted series for the selected user (empty without samples).
    pub fn plot_series(&self) -> Series {
        let Some(view) = &self.view else {
            return Series::default();
        };
        let rows = view.features.view();
        if rows.nrows() == 0 {
            return Series::default();
        }
        let phrase = view
            .metadata
            .as_ref()
            .map_or(&[][..], |m| m.key_sequence.as_slice());
        let stats = column_stats(rows);
        let chosen = self
            .plot
            .sample
            .unwrap_or(rows.nrows() - 1)
            .min(rows.nrows() - 1);
        let scale = |v: f64| {
            if self.plot.log_scale {
                v.max(1.0).log10()
            } else {
                v
            }
        };
        let mut series = Series::default();
        for (column, (mean, sd)) in stats.iter().enumerate() {
            let (kind, key) = feature_kind(column);
            if !self.plot.kind.matches(kind) {
                continue;
            }
            series.x.push((key + 1) as f64);
            series.labels.push(match kind {
                FeatureKind::Hold => phrase[key].clone(),
                _ => format!("{}→{}", phrase[key], phrase[key + 1]),
            });
            series.low.push(scale(mean - sd));
            series.high.push(scale(mean + sd));
            series.mean.push(scale(*mean));
            series.sample.push(scale(rows[(chosen, column)]));
        }
        if self.plot.all_samples {
            let columns: Vec<usize> = (0..rows.ncols())
                .filter(|&c| self.plot.kind.matches(feature_kind(c).0))
                .collect();
            series.all = rows
                .rows()
                .into_iter()
                .map(|row| columns.iter().map(|&c| scale(row[c])).collect())
                .collect();
        }
        series
    }

    /// The store numbers (from 1) of the plotted samples: those in use.
    fn plotted_numbers(&self) -> Vec<usize> {
        self.view
            .as_ref()
            .and_then(|v| v.metadata.as_ref())
            .map_or(Vec::new(), |m| {
                m.active_indices().into_iter().map(|i| i + 1).collect()
            })
    }

    pub(super) fn timings_tab(&mut self, ui: &mut egui::Ui) {
        let samples = self.view.as_ref().map_or(0, |v| v.features.nrows());
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.plot.kind, Kind::Hold, "Hold");
            ui.radio_value(&mut self.plot.kind, Kind::DownDown, "Down-down");
            ui.radio_value(&mut self.plot.kind, Kind::UpDown, "Up-down");
            ui.checkbox(&mut self.plot.log_scale, "Log scale");
            ui.checkbox(&mut self.plot.all_samples, "All samples");
        });
        if samples == 0 {
            ui.label("No samples yet for this user.");
            return;
        }
        ui.horizontal(|ui| {
            let mut latest = self.plot.sample.is_none();
            ui.checkbox(&mut latest, "Latest sample");
            if latest {
                self.plot.sample = None;
            } else {
                let mut index = self.plot.sample.unwrap_or(samples - 1).min(samples - 1);
                let label = ui.label("Sample:");
                // The slider walks the samples in use and names each by its number in the
                // store, as the Enrol tab's table does (excluded ones are skipped).
                let numbers = self.plotted_numbers();
                let typed = numbers.clone();
                let number = move |index: f64| {
                    let index = index.round().max(0.0) as usize;
                    numbers.get(index).map_or(index + 1, |n| *n)
                };
                // A typed number (`7` or `#7`) is a store number too.
                let position = move |text: &str| {
                    let wanted: usize = text.trim().trim_start_matches('#').parse().ok()?;
                    typed.iter().position(|&n| n == wanted).map(|p| p as f64)
                };
                ui.add(
                    egui::Slider::new(&mut index, 0..=samples - 1)
                        .custom_formatter(move |index, _| format!("#{}", number(index)))
                        .custom_parser(position),
                )
                .labelled_by(label.id);
                self.plot.sample = Some(index);
            }
            let stored = self
                .view
                .as_ref()
                .and_then(|v| v.metadata.as_ref())
                .map_or(samples, |m| m.samples);
            ui.label(if stored > samples {
                format!("plotted samples: {samples} in use, of {stored} stored")
            } else {
                format!("plotted samples: {samples}")
            });
        });
        let series = self.plot_series();
        let unit = if self.plot.log_scale {
            "log10 ms"
        } else {
            "ms"
        };
        let labels = series.labels.clone();
        Plot::new("timings")
            .height(320.0)
            .x_axis_label("key")
            // Each key position is named by its key (or pair of keys).
            .x_axis_formatter(move |mark, _| position_label(&labels, mark.value))
            .y_axis_label(unit)
            .legend(egui_plot::Legend::default())
            .show(ui, |plot| {
                plot.add(
                    FilledArea::new("mean ± sd", &series.x, &series.low, &series.high)
                        .fill_color(egui::Color32::from_rgba_unmultiplied(90, 140, 230, 70)),
                );
                let pairs = |ys: &[f64]| -> PlotPoints<'static> {
                    series.x.iter().zip(ys).map(|(&x, &y)| [x, y]).collect()
                };
                let faint = egui::Color32::from_rgba_unmultiplied(160, 160, 160, 40);
                for ys in &series.all {
                    plot.line(Line::new("all samples", pairs(ys)).color(faint).width(1.0));
                }
                plot.line(Line::new("mean", pairs(&series.mean)));
                plot.line(Line::new("sample", pairs(&series.sample)));
                plot.points(Points::new("sample keys", pairs(&series.sample)).radius(3.0));
            });
    }
}
