//! `eval`'s tables: plain text for the terminal and Markdown for `docs/`, from one column list.

use std::io::Write;

use super::DetectorReport;

/// Column headings (table, Markdown), shared by both formats.
fn columns(update: bool) -> Vec<(&'static str, &'static str)> {
    let mut columns = vec![
        ("EER", "EER"),
        ("EER sd", "EER sd"),
        ("FRR@FAR1%", "FRR @ FAR 1 %"),
        ("FRR@FAR0.1%", "FRR @ FAR 0.1 %"),
        ("zero-miss", "zero-miss FAR"),
        ("thr FRR", "FRR at threshold"),
        ("thr FAR", "FAR at threshold"),
    ];
    if update {
        columns.extend([
            ("updated", "updates taken"),
            ("imp. upd.", "impostor probes past the guard"),
        ]);
    }
    columns
}

/// A report line's cells.
fn cells(d: &DetectorReport, update: bool) -> Vec<String> {
    let r = &d.result;
    let mut cells: Vec<String> = [
        r.eer_mean,
        r.eer_sd,
        r.frr_at_far_1pc_mean,
        r.frr_at_far_01pc_mean,
        r.zero_miss_far_mean,
        r.threshold_frr_mean,
        r.threshold_far_mean,
    ]
    .iter()
    .map(|v| format!("{v:.4}"))
    .collect();
    if update {
        cells.push(format!("{:.3}", r.updates_taken_mean));
        cells.push(format!("{:.4}", r.impostor_updates_mean));
    }
    cells
}

/// The detector's name, marked when it is the product's default.
fn label(d: &DetectorReport) -> String {
    if d.default {
        format!("{} (default)", d.label)
    } else {
        d.label.to_string()
    }
}

/// A Markdown table, one line per detector.
pub fn markdown(
    out: &mut impl Write,
    detectors: &[DetectorReport],
    update: bool,
) -> std::io::Result<()> {
    let columns = columns(update);
    let headings: Vec<&str> = columns.iter().map(|c| c.1).collect();
    writeln!(out, "| detector | {} |", headings.join(" | "))?;
    writeln!(out, "|---|{}", "---:|".repeat(columns.len()))?;
    for d in detectors {
        writeln!(out, "| {} | {} |", label(d), cells(d, update).join(" | "))?;
    }
    Ok(())
}

/// A plain-text table, one line per detector, with the wall time.
pub fn table(
    out: &mut impl Write,
    detectors: &[DetectorReport],
    update: bool,
) -> std::io::Result<()> {
    let columns = columns(update);
    let widths: Vec<usize> = columns.iter().map(|c| c.0.len().max(7)).collect();
    // As wide as the longest detector's name (at least 42 characters, as before).
    let names = detectors
        .iter()
        .map(|d| label(d).chars().count() + 1)
        .fold(42, usize::max);
    write!(out, "{:<names$}", "detector")?;
    for ((heading, _), width) in columns.iter().zip(&widths) {
        write!(out, " {heading:>width$}")?;
    }
    writeln!(out, " {:>8}", "seconds")?;
    for d in detectors {
        write!(out, "{:<names$}", label(d))?;
        for (cell, width) in cells(d, update).iter().zip(&widths) {
            write!(out, " {cell:>width$}")?;
        }
        writeln!(out, " {:>8.3}", d.seconds)?;
    }
    Ok(())
}
