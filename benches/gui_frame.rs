//! Frame time of the workbench's Timings tab with 1,000 samples of an 11-key phrase plotted
//! (mean ± sd band, the latest sample, and every sample as a faint line): one egui pass
//! (logic + UI + tessellation of the plot) through egui_kittest, without a GPU.
//!
//! `cargo bench --bench gui_frame`

use std::hint::black_box;
use std::time::Duration;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use keystroke_workbench::capture::{KeyAction, KeyEvent, Sample};
use keystroke_workbench::gui::{Options, Settings, Tab, Workbench};
use keystroke_workbench::store::{Store, UserId};

const KEYS: [&str; 11] = [".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Enter"];

fn sample(variant: usize) -> Sample {
    let mut events = Vec::new();
    let mut t = 0.0;
    for (i, key) in KEYS.iter().enumerate() {
        let wobble = ((variant * 7 + i * 13) % 23) as f64;
        events.push(KeyEvent::new(*key, KeyAction::Down, t).unwrap());
        events.push(KeyEvent::new(*key, KeyAction::Up, t + 70.0 + wobble).unwrap());
        t += 150.0 + 3.0 * wobble;
    }
    Sample::from_events(events).unwrap()
}

fn frame(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let user = UserId::parse("bench").unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        store
            .with_user(&user, |w| {
                for i in 0..1000 {
                    w.add_sample(&sample(i), None, now)?;
                }
                Ok::<_, keystroke_workbench::store::StoreError>(())
            })
            .unwrap();
    }
    let settings = Settings {
        store_dir: dir.path().to_path_buf(),
        last_user: Some("bench".into()),
        ..Settings::default()
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1000.0, 760.0))
        .build_eframe(move |_cc| {
            Workbench::new(Options {
                settings,
                tab: Some(Tab::Timings),
                ..Options::default()
            })
            .unwrap()
        });
    harness.run_steps(2);
    harness.get_by_label("All samples").click();
    harness.run_steps(2);
    harness.get_by_label("plotted samples: 1000");
    assert_eq!(harness.state().plot_series().all.len(), 1000);
    c.bench_function("timings tab, 1000 samples, one frame", |b| {
        b.iter(|| {
            harness.step();
            black_box(&harness);
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = frame
}
criterion_main!(benches);
