//! Where key events come from: rdev's global listener (precise: stamped in the X event
//! callback) or, where it cannot run (Wayland, macOS, no permission, no display), the
//! workbench window's own key events (stamped with the frame time: lower precision).
//!
//! rdev's `listen` can never be stopped, so it is started once per process on its own named
//! thread and gated by [`RECORDING`], which the workbench sets only while capture is armed
//! *and* its window has focus: keys typed into other windows are dropped in the callback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use keystroke_core::capture::{KeyAction, canonical_key};

/// True while events may be recorded (armed and focused).
pub static RECORDING: AtomicBool = AtomicBool::new(false);

/// A key event from a capture source.
#[derive(Debug, Clone, PartialEq)]
pub struct RawKey {
    /// Canonical key name.
    pub key: String,
    /// Press or release.
    pub action: KeyAction,
    /// Milliseconds since the Unix epoch (global) or since the window opened (window).
    pub timestamp_ms: f64,
}

/// The source in use.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// rdev's global listener (sub-millisecond timestamps).
    Global,
    /// The window's own key events, stamped once per frame; the reason rdev is not used.
    Window(String),
}

impl Source {
    /// The tag stored with samples captured from this source.
    pub fn tag(&self) -> &'static str {
        match self {
            Source::Global => "global",
            Source::Window(_) => "window",
        }
    }

    /// Short description for the UI.
    pub fn describe(&self) -> String {
        match self {
            Source::Global => "global listener (rdev), ~1 ms precision".into(),
            Source::Window(why) => {
                format!("window key events, frame-quantised (lower precision): {why}")
            }
        }
    }
}

/// The global listener's events, once started.
pub struct GlobalCapture {
    events: Receiver<RawKey>,
}

impl GlobalCapture {
    /// Events received since the last call.
    pub fn drain(&self) -> Vec<RawKey> {
        self.events.try_iter().collect()
    }
}

static STARTED: OnceLock<Result<Mutex<Option<Receiver<RawKey>>>, String>> = OnceLock::new();

/// The window the listener wakes when it has an event, so the workbench repaints on input
/// instead of polling (an armed, idle window then costs nearly nothing).
static WAKE: OnceLock<egui::Context> = OnceLock::new();

/// Makes the listener wake `ctx` on each event it records (the first caller's context).
pub fn wake_on_events(ctx: &egui::Context) {
    WAKE.get_or_init(|| ctx.clone());
}

/// Starts rdev's listener (once per process). Fails with the reason on platforms or sessions
/// where it cannot work, or when it gives up at once (no X display).
pub fn start_global() -> Result<GlobalCapture, String> {
    let started = STARTED.get_or_init(|| spawn_listener().map(|rx| Mutex::new(Some(rx))));
    match started {
        Ok(slot) => slot
            .lock()
            .map_err(|_| "capture state poisoned".to_string())?
            .take()
            .map(|events| GlobalCapture { events })
            .ok_or_else(|| "the global listener is already in use".to_string()),
        Err(why) => Err(why.clone()),
    }
}

/// Attempts to attach rdev's listener: an X server that has only just started can refuse
/// the record extension for a moment.
const LISTEN_ATTEMPTS: usize = 5;

fn spawn_listener() -> Result<Receiver<RawKey>, String> {
    if cfg!(target_os = "macos") {
        return Err("rdev's listener crashes on recent macOS".into());
    }
    if std::env::var_os("DISPLAY").is_none() {
        return Err("no X display (Wayland allows no global listener)".into());
    }
    let mut why = String::new();
    for attempt in 1..=LISTEN_ATTEMPTS {
        match try_listen() {
            Ok(rx) => return Ok(rx),
            Err(e) => why = e,
        }
        log::debug!("global listener, attempt {attempt}: {why}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(why)
}

/// Starts one `rdev::listen` (which, once attached, can never be stopped).
fn try_listen() -> Result<Receiver<RawKey>, String> {
    let (tx, rx) = mpsc::channel();
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let failed = Arc::clone(&failure);
    std::thread::Builder::new()
        .name("rdev-listener".into())
        .spawn(move || {
            let result = rdev::listen(move |event| {
                if !RECORDING.load(Ordering::Relaxed) {
                    return;
                }
                let (key, action) = match event.event_type {
                    rdev::EventType::KeyPress(key) => (key, KeyAction::Down),
                    rdev::EventType::KeyRelease(key) => (key, KeyAction::Up),
                    _ => return,
                };
                let timestamp_ms = event
                    .time
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1000.0;
                let _ = tx.send(RawKey {
                    key: canonical_key(&format!("{key:?}")),
                    action,
                    timestamp_ms,
                });
                if let Some(ctx) = WAKE.get() {
                    ctx.request_repaint();
                }
            });
            if let Err(e) = result {
                *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("rdev cannot listen: {e:?}"));
            }
        })
        .map_err(|e| format!("cannot start the listener thread: {e}"))?;
    // `listen` fails at once when it cannot attach; otherwise it blocks for ever.
    std::thread::sleep(Duration::from_millis(150));
    if let Some(why) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(why);
    }
    Ok(rx)
}

/// The window's key events of this frame, stamped with the frame time. egui reports Shift as
/// a modifier, not as a key: a `Shift` press or release is made up wherever the modifier
/// changes (`shift` carries its state between frames), so both sources give
/// [`keystroke_core::capture::ShiftFold`] the same events.
pub fn window_keys(ctx: &egui::Context, shift: &mut bool) -> Vec<RawKey> {
    ctx.input(|input| {
        let timestamp_ms = input.time * 1000.0;
        let mut keys = Vec::new();
        for event in &input.events {
            let egui::Event::Key {
                key,
                pressed,
                repeat: false,
                modifiers,
                ..
            } = event
            else {
                continue;
            };
            if modifiers.shift != *shift {
                *shift = modifiers.shift;
                keys.push(RawKey {
                    key: "Shift".into(),
                    action: if modifiers.shift {
                        KeyAction::Down
                    } else {
                        KeyAction::Up
                    },
                    timestamp_ms,
                });
            }
            keys.push(RawKey {
                key: canonical_key(key.name()),
                action: if *pressed {
                    KeyAction::Down
                } else {
                    KeyAction::Up
                },
                timestamp_ms,
            });
        }
        keys
    })
}
