//! What a running server has answered: counters and the most recent requests, for the GUI's
//! server panel. Like the log, it holds no key names or timings, only who asked what.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;

use keystroke_core::store::UserId;

/// How many recent requests are kept.
pub const RECENT_REQUESTS: usize = 200;

/// One answered request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// When it arrived (local time).
    pub at: NaiveDateTime,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// Time from dequeuing to the answer being written.
    pub latency: Duration,
    /// The user it was about.
    pub user: Option<UserId>,
}

/// Counters and a window of recent requests.
#[derive(Debug, Default)]
pub struct ServerStats {
    requests: AtomicU64,
    /// Answers by status class: 2xx, 3xx, 4xx, 5xx.
    classes: [AtomicU64; 4],
    recent: Mutex<VecDeque<RequestRecord>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Requests answered.
    pub requests: u64,
    /// 2xx answers.
    pub ok: u64,
    /// 4xx answers.
    pub client_errors: u64,
    /// 5xx answers.
    pub server_errors: u64,
}

impl ServerStats {
    /// Records an answered request.
    pub fn record(&self, record: RequestRecord) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(class) = (record.status / 100).checked_sub(2).map(usize::from)
            && class < self.classes.len()
        {
            self.classes[class].fetch_add(1, Ordering::Relaxed);
        }
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_REQUESTS {
            recent.pop_front();
        }
        recent.push_back(record);
    }

    /// The counters.
    pub fn counts(&self) -> Counts {
        let class = |i: usize| self.classes[i].load(Ordering::Relaxed);
        Counts {
            requests: self.requests.load(Ordering::Relaxed),
            ok: class(0),
            client_errors: class(2),
            server_errors: class(3),
        }
    }

    /// The most recent requests, oldest first.
    pub fn recent(&self) -> Vec<RequestRecord> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn record(status: u16) -> RequestRecord {
        RequestRecord {
            at: NaiveDate::from_ymd_opt(2026, 11, 21)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
            method: "GET".into(),
            path: "/health".into(),
            status,
            latency: Duration::from_micros(80),
            user: None,
        }
    }

    #[test]
    fn counts_by_class_and_keeps_a_bounded_window() {
        let stats = ServerStats::default();
        for status in [200, 200, 404, 500, 413] {
            stats.record(record(status));
        }
        assert_eq!(
            stats.counts(),
            Counts {
                requests: 5,
                ok: 2,
                client_errors: 2,
                server_errors: 1
            }
        );
        for _ in 0..RECENT_REQUESTS {
            stats.record(record(201));
        }
        let recent = stats.recent();
        assert_eq!(recent.len(), RECENT_REQUESTS);
        assert!(recent.iter().all(|r| r.status == 201));
    }
}
