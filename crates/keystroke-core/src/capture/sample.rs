//! A sample is one typing of the phrase: its events paired into key presses, following the
//! rules of the API contract ("From events to features").

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use super::event::{KeyAction, KeyEvent, MAX_EVENTS};

/// Fewest complete presses a sample must have.
pub const MIN_PRESSES: usize = 2;

/// One key held down and released.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Press {
    /// The key's name.
    pub key: String,
    /// When it went down, ms.
    pub down_ms: f64,
    /// When it came up, ms.
    pub up_ms: f64,
}

/// Why events do not form a valid sample.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SampleError {
    /// A key went down and never came up.
    #[error("key {key:?} pressed at {timestamp_ms} ms is never released")]
    UnmatchedDown {
        /// The key.
        key: String,
        /// When it went down.
        timestamp_ms: f64,
    },
    /// A key came up without having gone down.
    #[error("key {key:?} released at {timestamp_ms} ms was never pressed")]
    UnmatchedUp {
        /// The key.
        key: String,
        /// When it came up.
        timestamp_ms: f64,
    },
    /// Too few complete presses.
    #[error("a sample needs at least {MIN_PRESSES} complete key presses, got {0}")]
    TooFewPresses(usize),
    /// Too many events.
    #[error("a sample has at most {MAX_EVENTS} events, got {0}")]
    TooManyEvents(usize),
}

/// A valid sample: the events as received, and the presses they form, ordered by down time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    events: Vec<KeyEvent>,
    presses: Vec<Press>,
}

impl Sample {
    /// Pairs events into presses.
    ///
    /// Events are ordered by timestamp (stable for ties). Each `down` pairs with the next `up` of
    /// the same key; a `down` of a key already held (auto-repeat) is ignored.
    pub fn from_events(events: Vec<KeyEvent>) -> Result<Sample, SampleError> {
        if events.len() > MAX_EVENTS {
            return Err(SampleError::TooManyEvents(events.len()));
        }
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|&a, &b| events[a].timestamp_ms.total_cmp(&events[b].timestamp_ms));

        // Held keys map to (position of their down in time order, down time).
        let mut held: HashMap<&str, (usize, f64)> = HashMap::new();
        let mut presses = Vec::new();
        for (position, &i) in order.iter().enumerate() {
            let event = &events[i];
            match event.action {
                KeyAction::Down => {
                    held.entry(event.key.as_str())
                        .or_insert((position, event.timestamp_ms));
                }
                KeyAction::Up => match held.remove(event.key.as_str()) {
                    Some((down_position, down_ms)) => presses.push((
                        down_position,
                        Press {
                            key: event.key.clone(),
                            down_ms,
                            up_ms: event.timestamp_ms,
                        },
                    )),
                    None => {
                        return Err(SampleError::UnmatchedUp {
                            key: event.key.clone(),
                            timestamp_ms: event.timestamp_ms,
                        });
                    }
                },
            }
        }
        if let Some((key, &(_, timestamp_ms))) =
            held.iter().min_by_key(|(_, (position, _))| *position)
        {
            return Err(SampleError::UnmatchedDown {
                key: key.to_string(),
                timestamp_ms,
            });
        }
        if presses.len() < MIN_PRESSES {
            return Err(SampleError::TooFewPresses(presses.len()));
        }
        // Presses were collected in release order; the sequence is ordered by press time.
        presses.sort_by_key(|(down_position, _)| *down_position);
        let presses = presses.into_iter().map(|(_, press)| press).collect();
        Ok(Sample { events, presses })
    }

    /// The events as received.
    pub fn events(&self) -> &[KeyEvent] {
        &self.events
    }

    /// The presses, ordered by down time.
    pub fn presses(&self) -> &[Press] {
        &self.presses
    }

    /// The keys in press order: the typed phrase.
    pub fn key_sequence(&self) -> Vec<String> {
        self.presses.iter().map(|p| p.key.clone()).collect()
    }

    /// The sample without its last press: that key's events from its down on (its up, and any
    /// auto-repeated downs between) are left out; the last press by down time owns every later
    /// event of its key. `None` when fewer than [`MIN_PRESSES`] presses would be left.
    pub fn without_last_press(&self) -> Option<Sample> {
        let last = self.presses.last()?;
        let owned = |e: &KeyEvent| {
            e.key == last.key
                && (e.timestamp_ms > last.down_ms
                    || (e.timestamp_ms == last.down_ms && e.action == KeyAction::Down))
        };
        let events = self.events.iter().filter(|e| !owned(e)).cloned().collect();
        Sample::from_events(events).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyAction::{Down, Up};

    fn ev(key: &str, action: KeyAction, t: f64) -> KeyEvent {
        KeyEvent::new(key, action, t).unwrap()
    }

    #[test]
    fn without_last_press_keeps_an_earlier_press_of_the_same_key() {
        // The first `a` is released the moment the second goes down.
        let s = Sample::from_events(vec![
            ev("a", Down, 0.0),
            ev("b", Down, 50.0),
            ev("b", Up, 120.0),
            ev("a", Up, 200.0),
            ev("a", Down, 200.0),
            ev("a", Up, 300.0),
        ])
        .unwrap();
        assert_eq!(s.key_sequence(), ["a", "b", "a"]);
        let cut = s.without_last_press().expect("two presses left");
        assert_eq!(cut.presses(), &s.presses()[..2]);
        assert_eq!(cut.events().len(), 4);
        assert_eq!(cut.without_last_press(), None, "one press is no sample");
    }

    #[test]
    fn pairs_simple_presses_in_order() {
        let s = Sample::from_events(vec![
            ev("p", Down, 100.0),
            ev("p", Up, 250.0),
            ev("a", Down, 350.0),
            ev("a", Up, 510.0),
        ])
        .unwrap();
        assert_eq!(s.key_sequence(), ["p", "a"]);
        assert_eq!(
            s.presses()[1],
            Press {
                key: "a".into(),
                down_ms: 350.0,
                up_ms: 510.0
            }
        );
    }

    #[test]
    fn orders_out_of_order_events_by_timestamp() {
        let s = Sample::from_events(vec![
            ev("a", Up, 510.0),
            ev("p", Down, 100.0),
            ev("a", Down, 350.0),
            ev("p", Up, 250.0),
        ])
        .unwrap();
        assert_eq!(s.key_sequence(), ["p", "a"]);
    }

    #[test]
    fn overlapping_keys_are_ordered_by_down_time() {
        // Shift down, R down, Shift up, R up: R is released last but pressed second.
        let s = Sample::from_events(vec![
            ev("Shift", Down, 0.0),
            ev("R", Down, 50.0),
            ev("Shift", Up, 90.0),
            ev("R", Up, 120.0),
        ])
        .unwrap();
        assert_eq!(s.key_sequence(), ["Shift", "R"]);
    }

    #[test]
    fn ignores_auto_repeat_downs() {
        let s = Sample::from_events(vec![
            ev("a", Down, 0.0),
            ev("a", Down, 30.0),
            ev("a", Down, 60.0),
            ev("a", Up, 90.0),
            ev("b", Down, 100.0),
            ev("b", Up, 150.0),
        ])
        .unwrap();
        assert_eq!(s.presses()[0].down_ms, 0.0);
        assert_eq!(s.presses()[0].up_ms, 90.0);
    }

    #[test]
    fn repeated_key_pairs_with_next_up() {
        let s = Sample::from_events(vec![
            ev("l", Down, 0.0),
            ev("l", Up, 40.0),
            ev("l", Down, 100.0),
            ev("l", Up, 150.0),
        ])
        .unwrap();
        assert_eq!(s.presses().len(), 2);
        assert_eq!(s.presses()[1].down_ms, 100.0);
    }

    #[test]
    fn rejects_up_without_down_naming_key_and_time() {
        let err = Sample::from_events(vec![
            ev("a", Up, 5.0),
            ev("b", Down, 10.0),
            ev("b", Up, 20.0),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "key \"a\" released at 5 ms was never pressed"
        );
    }

    #[test]
    fn rejects_down_without_up() {
        let err = Sample::from_events(vec![
            ev("a", Down, 0.0),
            ev("a", Up, 10.0),
            ev("b", Down, 20.0),
            ev("c", Down, 30.0),
            ev("c", Up, 40.0),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            SampleError::UnmatchedDown {
                key: "b".into(),
                timestamp_ms: 20.0
            }
        );
    }

    #[test]
    fn rejects_single_press() {
        let err = Sample::from_events(vec![ev("a", Down, 0.0), ev("a", Up, 10.0)]).unwrap_err();
        assert_eq!(err, SampleError::TooFewPresses(1));
    }

    #[test]
    fn up_before_down_at_same_timestamp_keeps_input_order() {
        // Stable ordering: the up is first, so it has no earlier down.
        let err = Sample::from_events(vec![ev("a", Up, 10.0), ev("a", Down, 10.0)]).unwrap_err();
        assert!(matches!(err, SampleError::UnmatchedUp { .. }));
    }
}
