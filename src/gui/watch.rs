//! Repaint on change, not on a timer: a named thread watches the selected user's commit stamp
//! (which also sees another program's commits, a `serve` on the same folder) and wakes the
//! window when it changes, so an idle workbench draws no frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keystroke_core::store::{Store, UserId};

/// How often the stamp is read (a `stat` of one file).
const EVERY: Duration = Duration::from_millis(250);

/// The watching thread; stopped when dropped.
pub struct StoreWatch {
    user: Arc<Mutex<Option<UserId>>>,
    stop: Arc<AtomicBool>,
}

impl StoreWatch {
    /// Starts watching `store` for the window of `ctx`.
    pub fn start(store: Arc<Store>, ctx: egui::Context) -> StoreWatch {
        let user: Arc<Mutex<Option<UserId>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (watched, stopped) = (Arc::clone(&user), Arc::clone(&stop));
        let spawned = std::thread::Builder::new()
            .name("store-watch".into())
            .spawn(move || {
                let mut last = None;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    let user = watched
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    let stamp = user.map(|u| store.commit_stamp(&u).ok());
                    if stamp != last {
                        last = stamp;
                        ctx.request_repaint();
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!(
                "cannot start the store watcher ({e}): other programs' samples show on the next input"
            );
        }
        StoreWatch { user, stop }
    }

    /// Watches `user` (the selected one) from now on.
    pub fn watch(&self, user: Option<&UserId>) {
        let mut watched = self.user.lock().unwrap_or_else(PoisonError::into_inner);
        if watched.as_ref() != user {
            *watched = user.cloned();
        }
    }
}

impl Drop for StoreWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
