//! Keystroke Workbench: keystroke-dynamics authentication.
//!
//! The core is GUI-free and transport-free: [`capture`] (events and samples) → [`features`] →
//! [`detect`] (anomaly detectors) → [`store`] (the on-disk model store), and [`eval`] (the
//! Killourhy & Maxion benchmark protocol).

pub mod capture;
pub mod cli;
pub mod detect;
pub mod eval;
pub mod features;
pub mod store;
pub mod workers;
