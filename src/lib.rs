//! The `keystroke-workbench` front-ends: the command line ([`cli`]) and the desktop workbench
//! (`gui`, behind the `gui` feature), over the core (`keystroke-core`) and the server
//! (`keystroke-server`).
//!
//! The core's and the server's modules are re-exported under the paths they had before the
//! workspace split (`keystroke_workbench::store`, `…::api`, `…::server`), which the
//! integration tests, benchmarks, examples and fuzz targets use.

pub mod cli;
#[cfg(feature = "gui")]
pub mod gui;
pub mod workers;

pub use keystroke_core::{auth, capture, detect, eval, features, session, store};
/// The HTTP transport (the `keystroke-server` crate).
pub use keystroke_server as server;
pub use keystroke_server::api;
