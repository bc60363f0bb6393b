//! The audit log, `<store>/audit.jsonl`: one JSON line per /train, deletion and lockout —
//! time, endpoint, user, outcome, client address; never keys or timings. Each line is durable
//! before the request it records is answered, fsynced through the store's group committer
//! together with every other writer's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDateTime;
use serde_json::json;

use keystroke_core::store::{Store, UserId, format_time};

/// File name of the audit log inside the store.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// An append-only audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
    store: Arc<Store>,
}

/// One audited event.
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    /// When.
    pub at: NaiveDateTime,
    /// `POST /train`, `DELETE /user`, `POST /predict` (lockouts).
    pub endpoint: &'a str,
    /// The user.
    pub user: &'a UserId,
    /// What happened (`stored`, `trained`, `refused 400`, `deleted`, `locked out 30 s`, …).
    pub outcome: &'a str,
    /// The client's address, when known.
    pub client: Option<&'a str>,
}

impl AuditLog {
    /// The log of `store` (created on the first event).
    pub fn new(store: Arc<Store>) -> AuditLog {
        AuditLog {
            path: store.dir().join(AUDIT_FILE),
            file: Mutex::new(None),
            store,
        }
    }

    /// Appends an event and waits until it is durable; failures are logged, never fatal to the
    /// request.
    pub fn record(&self, event: AuditEvent<'_>) {
        let mut line = json!({
            "time": format_time(event.at),
            "endpoint": event.endpoint,
            "user": event.user.as_str(),
            "outcome": event.outcome,
            "client": event.client,
        })
        .to_string();
        line.push('\n');
        let written = (|| {
            let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            let created = file.is_none() && !self.path.exists();
            if file.is_none() {
                *file = Some(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)?,
                );
            }
            let handle = file.as_mut().expect("opened above");
            // One append per line (atomic for O_APPEND, also beside other processes' lines).
            if let Err(e) = handle.write_all(line.as_bytes()) {
                *file = None;
                return Err(e);
            }
            Ok::<_, std::io::Error>((handle.try_clone()?, created))
        })();
        let result = written.and_then(|(handle, created)| {
            let dirs = if created {
                vec![self.store.dir().to_path_buf()]
            } else {
                Vec::new()
            };
            self.store.committer().sync(vec![handle], dirs)
        });
        if let Err(e) = result {
            log::error!(
                "cannot append to the audit log {}: {e}",
                self.path.display()
            );
        }
    }
}
