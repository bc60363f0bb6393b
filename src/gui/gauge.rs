//! The verdict gauge of the Demo and Train & test tabs: a score over ±span, red left of the
//! threshold (0) and green right of it, the threshold marked and named, the score a marker.

use egui::{Align2, Color32, FontId, Stroke, StrokeKind};

/// Colour of a genuine verdict (and the gauge's accepting side).
pub const GENUINE: Color32 = Color32::from_rgb(40, 160, 70);
/// Colour of an impostor verdict (and the gauge's rejecting side).
pub const IMPOSTOR: Color32 = Color32::from_rgb(200, 50, 50);

/// A gauge over ±`span`: red left of the threshold, green right of it, the threshold marked
/// and named, and the score's marker.
pub fn gauge(ui: &mut egui::Ui, score: f64, span: f64) {
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 44.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let bar = egui::Rect::from_min_max(rect.min + egui::vec2(0.0, 14.0), rect.max);
    let middle = bar.center().x;
    let at = |value: f64| {
        let t = ((value + span) / (2.0 * span)).clamp(0.0, 1.0) as f32;
        bar.left() + t * bar.width()
    };
    painter.rect_filled(
        egui::Rect::from_min_max(bar.min, egui::pos2(middle, bar.bottom())),
        0.0,
        IMPOSTOR.gamma_multiply(0.6),
    );
    painter.rect_filled(
        egui::Rect::from_min_max(egui::pos2(middle, bar.top()), bar.max),
        0.0,
        GENUINE.gamma_multiply(0.6),
    );
    painter.rect_stroke(
        bar,
        0.0,
        Stroke::new(1.0, Color32::GRAY),
        StrokeKind::Inside,
    );
    painter.line_segment(
        [
            egui::pos2(middle, rect.top()),
            egui::pos2(middle, bar.bottom()),
        ],
        Stroke::new(3.0, Color32::WHITE),
    );
    painter.text(
        egui::pos2(middle + 4.0, rect.top()),
        Align2::LEFT_TOP,
        "threshold",
        FontId::proportional(12.0),
        Color32::WHITE,
    );
    let x = at(score);
    painter.rect_filled(
        egui::Rect::from_center_size(egui::pos2(x, bar.center().y), egui::vec2(8.0, bar.height())),
        2.0,
        Color32::YELLOW,
    );
}
