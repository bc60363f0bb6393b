//! Live capture: key events in, one [`Sample`] out each time the typist finishes the phrase.
//! The end key (Enter) closes an attempt once it is released with no other key held, and is
//! part of the sample, as in the CMU benchmark; Backspace abandons the attempt.

use super::{KeyAction, KeyEvent, Sample};

/// Key that ends an attempt.
pub const END_KEY: &str = "Enter";

/// Key that abandons an attempt.
pub const ABANDON_KEY: &str = "Backspace";

/// An attempt as the phrase `enrolled` has it. The recorder keeps the end key in the sample,
/// but a phrase enrolled without it (by an app that sends no Enter over the API) is judged on
/// its own keys: an attempt that is that phrase and then the end key comes without the end
/// key. Any other attempt is returned as it is.
pub fn fit_to_phrase(sample: Sample, enrolled: &[String]) -> Sample {
    let typed = sample.key_sequence();
    match typed.split_last() {
        Some((last, keys)) if last == END_KEY && keys == enrolled => {
            sample.without_last_press().unwrap_or(sample)
        }
        _ => sample,
    }
}

/// What one event led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The attempt goes on.
    Pending,
    /// A complete sample.
    Sample(Sample),
    /// The attempt ended without a sample; the reason.
    Refused(String),
}

/// Collects the events of the attempt in progress.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    events: Vec<KeyEvent>,
    held: Vec<String>,
    /// The end key was released; the attempt closes once nothing is held.
    ending: bool,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Takes one event (key already canonical, time in ms from any fixed origin).
    pub fn push(&mut self, key: &str, action: KeyAction, timestamp_ms: f64) -> Recorded {
        let event = match KeyEvent::new(key, action, timestamp_ms) {
            Ok(event) => event,
            Err(problem) => {
                self.reset();
                return Recorded::Refused(problem);
            }
        };
        match action {
            KeyAction::Down => {
                if key == ABANDON_KEY {
                    let had_keys = !self.events.is_empty();
                    self.reset();
                    return if had_keys {
                        Recorded::Refused("attempt abandoned with Backspace".into())
                    } else {
                        Recorded::Pending
                    };
                }
                if !self.held.iter().any(|k| k == key) {
                    self.held.push(key.to_string());
                }
                self.events.push(event);
            }
            KeyAction::Up => {
                let was_held = self.held.iter().position(|k| k == key);
                match was_held {
                    Some(i) => {
                        self.held.remove(i);
                        self.events.push(event);
                    }
                    // A release of a key pressed before the attempt began: not ours.
                    None => return Recorded::Pending,
                }
                self.ending |= key == END_KEY;
                if self.ending && self.held.is_empty() {
                    self.ending = false;
                    let events = std::mem::take(&mut self.events);
                    return match Sample::from_events(events) {
                        Ok(sample) => Recorded::Sample(sample),
                        Err(e) => Recorded::Refused(e.to_string()),
                    };
                }
            }
        }
        Recorded::Pending
    }

    /// Keys pressed so far in this attempt, in order.
    pub fn typed(&self) -> Vec<&str> {
        let mut held: Vec<&str> = Vec::new();
        let mut typed = Vec::new();
        for event in &self.events {
            match event.action {
                KeyAction::Down if !held.contains(&event.key.as_str()) => {
                    held.push(&event.key);
                    typed.push(event.key.as_str());
                }
                KeyAction::Down => {}
                KeyAction::Up => held.retain(|k| *k != event.key),
            }
        }
        typed
    }

    /// Forgets the attempt in progress.
    pub fn reset(&mut self) {
        self.events.clear();
        self.held.clear();
        self.ending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyAction::{Down, Up};

    fn type_keys(recorder: &mut Recorder, keys: &[&str], start: f64) -> Recorded {
        let mut last = Recorded::Pending;
        for (i, key) in keys.iter().enumerate() {
            let t = start + 200.0 * i as f64;
            assert_eq!(recorder.push(key, Down, t), Recorded::Pending);
            last = recorder.push(key, Up, t + 90.0);
        }
        last
    }

    #[test]
    fn enter_closes_a_sample_that_includes_it() {
        let mut recorder = Recorder::new();
        let Recorded::Sample(sample) = type_keys(&mut recorder, &["p", "a", "Enter"], 0.0) else {
            panic!("a sample")
        };
        assert_eq!(sample.key_sequence(), ["p", "a", "Enter"]);
        assert!(recorder.typed().is_empty(), "the next attempt starts empty");
    }

    #[test]
    fn a_phrase_enrolled_without_enter_gets_the_attempt_without_it() {
        let phrase = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let mut recorder = Recorder::new();
        for (i, key) in ["p", "a"].iter().enumerate() {
            let t = 200.0 * i as f64;
            recorder.push(key, Down, t);
            recorder.push(key, Up, t + 90.0);
        }
        // Enter held long enough to auto-repeat.
        recorder.push("Enter", Down, 400.0);
        recorder.push("Enter", Down, 900.0);
        let Recorded::Sample(sample) = recorder.push("Enter", Up, 950.0) else {
            panic!("a sample")
        };

        let fitted = fit_to_phrase(sample.clone(), &phrase(&["p", "a"]));
        assert_eq!(fitted.key_sequence(), ["p", "a"]);
        assert_eq!(fitted.presses(), &sample.presses()[..2], "the timings kept");
        assert_eq!(fitted.events().len(), 4, "Enter's events left out");
        // A phrase enrolled with Enter, another phrase, or one key: the attempt as typed.
        for enrolled in [&["p", "a", "Enter"][..], &["p", "b"], &["p", "a", "x"]] {
            assert_eq!(fit_to_phrase(sample.clone(), &phrase(enrolled)), sample);
        }
        let Recorded::Sample(one_key) = type_keys(&mut recorder, &["p", "Enter"], 2000.0) else {
            panic!("a sample")
        };
        assert_eq!(
            fit_to_phrase(one_key.clone(), &phrase(&["p"])),
            one_key,
            "a sample needs two presses"
        );
    }

    #[test]
    fn enter_waits_for_held_keys_and_ignores_earlier_releases() {
        let mut recorder = Recorder::new();
        // A Shift released from before the attempt is not part of it.
        assert_eq!(recorder.push("Shift", Up, 0.0), Recorded::Pending);
        type_keys(&mut recorder, &["a"], 10.0);
        recorder.push("Shift", Down, 300.0);
        recorder.push("Enter", Down, 320.0);
        assert_eq!(recorder.push("Enter", Up, 400.0), Recorded::Pending);
        assert_eq!(recorder.typed(), ["a", "Shift", "Enter"]);
        let Recorded::Sample(sample) = recorder.push("Shift", Up, 420.0) else {
            panic!("Enter closes once Shift is released")
        };
        assert_eq!(sample.key_sequence(), ["a", "Shift", "Enter"]);
    }

    #[test]
    fn backspace_abandons_and_too_short_is_refused() {
        let mut recorder = Recorder::new();
        type_keys(&mut recorder, &["a", "b"], 0.0);
        assert_eq!(
            recorder.push("Backspace", Down, 500.0),
            Recorded::Refused("attempt abandoned with Backspace".into())
        );
        assert!(recorder.typed().is_empty());
        let refused = type_keys(&mut recorder, &["Enter"], 1000.0);
        assert!(
            matches!(&refused, Recorded::Refused(why) if why.contains("at least 2")),
            "{refused:?}"
        );
    }

    #[test]
    fn auto_repeat_is_one_press() {
        let mut recorder = Recorder::new();
        recorder.push("a", Down, 0.0);
        recorder.push("a", Down, 30.0);
        recorder.push("a", Up, 90.0);
        assert_eq!(recorder.typed(), ["a"]);
    }
}
