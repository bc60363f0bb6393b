//! One vocabulary for key names, whichever source reported them: the global listener (rdev's
//! physical names: `KeyA`, `Num5`, `ShiftLeft`, `Return`, `Dot`) or the window's own events
//! (egui's names: `A`, `Num5`, `Enter`, `Period`). Letters become lower case (Shift is a key
//! of its own), both Shifts are `Shift`, both Returns `Enter`, punctuation its character.

/// The canonical name of a key reported as `name`.
pub fn canonical_key(name: &str) -> String {
    if let Some(letter) = name.strip_prefix("Key")
        && letter.len() == 1
        && letter.chars().all(|c| c.is_ascii_alphabetic())
    {
        return letter.to_ascii_lowercase();
    }
    if name.len() == 1 && name.chars().all(|c| c.is_ascii_alphabetic()) {
        return name.to_ascii_lowercase();
    }
    if let Some(digit) = name.strip_prefix("Num")
        && digit.len() == 1
        && digit.chars().all(|c| c.is_ascii_digit())
    {
        return digit.to_string();
    }
    let canonical = match name {
        "Return" | "Enter" | "KpReturn" => "Enter",
        "ShiftLeft" | "ShiftRight" | "Shift" => "Shift",
        "ControlLeft" | "ControlRight" | "Control" => "Control",
        "Alt" | "AltGr" => "Alt",
        "BackSpace" | "Backspace" => "Backspace",
        "Dot" | "Period" => ".",
        "Comma" => ",",
        "Minus" => "-",
        "Equal" | "Equals" => "=",
        "Slash" => "/",
        "BackSlash" | "Backslash" => "\\",
        "SemiColon" | "Semicolon" => ";",
        "Quote" => "'",
        "LeftBracket" | "OpenBracket" => "[",
        "RightBracket" | "CloseBracket" => "]",
        "BackQuote" | "Backtick" => "`",
        other => other,
    };
    canonical.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sources_name_keys_alike() {
        for (rdev, egui, canonical) in [
            ("KeyA", "A", "a"),
            ("Num5", "Num5", "5"),
            ("Return", "Enter", "Enter"),
            ("Dot", "Period", "."),
            ("BackSpace", "Backspace", "Backspace"),
            ("Space", "Space", "Space"),
            ("SemiColon", "Semicolon", ";"),
        ] {
            assert_eq!(canonical_key(rdev), canonical, "{rdev}");
            assert_eq!(canonical_key(egui), canonical, "{egui}");
        }
        assert_eq!(canonical_key("ShiftRight"), "Shift");
        assert_eq!(canonical_key("F5"), "F5");
        assert_eq!(canonical_key("Keyboard"), "Keyboard");
    }
}
