//! Keystroke Workbench's core: keystroke-dynamics authentication without a GUI, a transport, a
//! terminal or a clock of its own (time is passed in).
//!
//! [`capture`] (events and samples) → [`features`] → [`detect`] (anomaly detectors) → [`store`]
//! (the on-disk model store, safe across processes) → [`auth`] (the login decision every
//! front-end uses), with [`eval`] (the Killourhy & Maxion benchmark protocol) and [`session`]
//! (recorded sessions). The server crate (`keystroke-server`) and the `keystroke-workbench`
//! binary (CLI and GUI) are front-ends over it.
//!
//! ```
//! use keystroke_core::capture::{KeyAction::{Down, Up}, KeyEvent, Sample};
//! use keystroke_core::detect::{Detector, IsolationForest, Scorer};
//! use keystroke_core::features::Features;
//!
//! // Five typings of "ab", then a sixth to test.
//! let typing = |hold: f64, gap: f64| {
//!     let events = vec![
//!         KeyEvent::new("a", Down, 0.0).unwrap(),
//!         KeyEvent::new("a", Up, hold).unwrap(),
//!         KeyEvent::new("b", Down, hold + gap).unwrap(),
//!         KeyEvent::new("b", Up, 2.0 * hold + gap).unwrap(),
//!     ];
//!     Features::of(&Sample::from_events(events).unwrap()).values_ms
//! };
//! let rows: Vec<Vec<f64>> = (0..5).map(|i| typing(90.0 + i as f64, 40.0 + 2.0 * i as f64)).collect();
//! let train = ndarray::Array2::from_shape_vec((5, 4), rows.concat()).unwrap();
//!
//! let forest = IsolationForest::params().n_trees(100).seed(42).fit(train.view()).unwrap();
//! let genuine = forest.decision_function(&typing(92.0, 43.0)).unwrap();
//! let imposter = forest.decision_function(&typing(250.0, 400.0)).unwrap();
//! assert!(genuine > imposter);
//! assert!(forest.score(&[1.0]).is_err()); // wrong length: an error, not a panic
//! ```

pub mod auth;
pub mod capture;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod features;
pub mod session;
pub mod store;
