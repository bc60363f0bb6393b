//! The audit log, `<store>/audit.jsonl`: one JSON line per /train, deletion and lockout —
//! time, endpoint, user, outcome, client address; never keys or timings.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::NaiveDateTime;
use serde_json::json;

use crate::store::{UserId, format_time};

/// File name of the audit log inside the store.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// An append-only audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
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
    /// The log of the store in `dir` (created on the first event).
    pub fn new(dir: &Path) -> AuditLog {
        AuditLog {
            path: dir.join(AUDIT_FILE),
            file: Mutex::new(None),
        }
    }

    /// Appends an event; failures are logged, never fatal to the request.
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
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let result = (|| {
            if file.is_none() {
                *file = Some(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)?,
                );
            }
            // One append per line (atomic for O_APPEND), handed to the OS but not fsynced: a
            // power cut may lose the last lines, never the data they describe.
            file.as_mut()
                .expect("opened above")
                .write_all(line.as_bytes())
        })();
        if let Err(e) = result {
            *file = None;
            log::error!(
                "cannot append to the audit log {}: {e}",
                self.path.display()
            );
        }
    }
}
