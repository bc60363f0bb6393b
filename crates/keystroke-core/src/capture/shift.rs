//! One key vocabulary for live capture: a letter typed while Shift is held is its capital
//! (`Shift` + `r` → the one key `R`), and Shift's own presses are not keys of the sample. This
//! is how the CMU benchmark and the bundled sample sessions record a capital (`.tie5Roanl` is
//! the 11 keys `. t i e 5 R o a n l Enter`), so a person typing the phrase live is scored
//! against them. In the API's terms (`spec/api.md`, "Keystroke sample"): the capital is one
//! key press named by its character, from the letter's down to the letter's up; other keys,
//! Shift with a digit or a symbol included, keep their own names. The API itself compares keys
//! as clients send them, unchanged.

use super::KeyAction;

/// Folds Shift into the letters typed with it, event by event.
#[derive(Debug, Clone, Default)]
pub struct ShiftFold {
    /// Whether Shift is down (a flag, not a count: a held key's auto-repeat sends more downs
    /// than ups; both Shifts have one canonical name, so releasing either ends it).
    shift_down: bool,
    /// Letters whose press was taken as a capital and that are still down: their release is
    /// the capital's, even when Shift came up first.
    capitals: Vec<String>,
}

impl ShiftFold {
    /// A fold with no key down.
    pub fn new() -> ShiftFold {
        ShiftFold::default()
    }

    /// The key an event of canonical key `key` records as, or `None` for Shift itself.
    pub fn map(&mut self, key: &str, action: KeyAction) -> Option<String> {
        if key == "Shift" {
            self.shift_down = action == KeyAction::Down;
            return None;
        }
        let letter = key.len() == 1 && key.chars().all(|c| c.is_ascii_lowercase());
        if !letter {
            return Some(key.to_string());
        }
        let capital = key.to_ascii_uppercase();
        match action {
            KeyAction::Down if self.shift_down => {
                if !self.capitals.iter().any(|c| c == key) {
                    self.capitals.push(key.to_string());
                }
                Some(capital)
            }
            KeyAction::Up => match self.capitals.iter().position(|c| c == key) {
                Some(i) => {
                    self.capitals.remove(i);
                    Some(capital)
                }
                None => Some(key.to_string()),
            },
            KeyAction::Down => Some(key.to_string()),
        }
    }

    /// Forgets every key held (capture paused: their releases will not be seen).
    pub fn reset(&mut self) {
        *self = ShiftFold::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyAction::{Down, Up};

    fn run(events: &[(&str, KeyAction)]) -> Vec<String> {
        let mut fold = ShiftFold::new();
        events
            .iter()
            .filter_map(|(key, action)| {
                fold.map(key, *action)
                    .map(|k| format!("{k}{}", if *action == Down { "↓" } else { "↑" }))
            })
            .collect()
    }

    #[test]
    fn a_shifted_letter_is_its_capital_and_shift_is_no_key() {
        let keys = run(&[
            ("5", Down),
            ("5", Up),
            ("Shift", Down),
            ("r", Down),
            // Shift released before the letter: the release is still the capital's.
            ("Shift", Up),
            ("r", Up),
            ("o", Down),
            ("o", Up),
        ]);
        assert_eq!(keys, ["5↓", "5↑", "R↓", "R↑", "o↓", "o↑"]);
    }

    #[test]
    fn shift_with_other_keys_and_an_auto_repeating_shift() {
        let keys = run(&[
            ("Shift", Down),
            ("1", Down),
            ("1", Up),
            // A held Shift repeats its down; one release ends it.
            ("Shift", Down),
            ("Shift", Down),
            ("a", Down),
            ("a", Up),
            ("Shift", Up),
            ("a", Down),
            ("a", Up),
        ]);
        assert_eq!(keys, ["1↓", "1↑", "A↓", "A↑", "a↓", "a↑"]);
    }
}
