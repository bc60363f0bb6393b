//! User ids: validated before they touch a path. The mobile app uses e-mail addresses.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest user id, in characters.
pub const MAX_USER_ID_CHARS: usize = 128;

/// A user id: 1–128 characters of `A–Z a–z 0–9 . _ - @ +`, not starting with `.`. Such an id
/// names no other place (`/`, `\`, NUL and a leading `.` are impossible), so it is safe as part
/// of a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// Why a string is not a user id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UserIdError {
    /// Empty.
    #[error("user_id must not be empty")]
    Empty,
    /// Over [`MAX_USER_ID_CHARS`].
    #[error("user_id has {0} characters; at most {MAX_USER_ID_CHARS} are allowed")]
    TooLong(usize),
    /// Starts with a dot.
    #[error("user_id must not start with '.'")]
    LeadingDot,
    /// A character outside the allowed set.
    #[error("user_id contains {0:?}; only A-Z a-z 0-9 . _ - @ + are allowed")]
    BadChar(char),
}

impl UserId {
    /// Validates `id`.
    pub fn parse(id: &str) -> Result<UserId, UserIdError> {
        if id.is_empty() {
            return Err(UserIdError::Empty);
        }
        let chars = id.chars().count();
        if chars > MAX_USER_ID_CHARS {
            return Err(UserIdError::TooLong(chars));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-@+".contains(*c)))
        {
            return Err(UserIdError::BadChar(bad));
        }
        if id.starts_with('.') {
            return Err(UserIdError::LeadingDot);
        }
        Ok(UserId(id.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;
    fn try_from(id: String) -> Result<Self, UserIdError> {
        UserId::parse(&id)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_email_addresses() {
        for id in [
            "alice",
            "alice@example.com",
            "bob+lab@uni.edu",
            "a-b_c.d",
            "X9",
        ] {
            assert_eq!(UserId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_path_like_ids() {
        assert_eq!(UserId::parse("../x"), Err(UserIdError::BadChar('/')));
        assert_eq!(UserId::parse("a/b"), Err(UserIdError::BadChar('/')));
        assert_eq!(UserId::parse("a\\b"), Err(UserIdError::BadChar('\\')));
        assert_eq!(UserId::parse("a\0b"), Err(UserIdError::BadChar('\0')));
        assert_eq!(UserId::parse(".hidden"), Err(UserIdError::LeadingDot));
        assert_eq!(UserId::parse(".."), Err(UserIdError::LeadingDot));
    }

    #[test]
    fn rejects_empty_and_overlong() {
        assert_eq!(UserId::parse(""), Err(UserIdError::Empty));
        assert_eq!(
            UserId::parse(&"a".repeat(129)),
            Err(UserIdError::TooLong(129))
        );
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn rejects_spaces_and_unicode() {
        assert_eq!(UserId::parse("a b"), Err(UserIdError::BadChar(' ')));
        assert_eq!(UserId::parse("é"), Err(UserIdError::BadChar('é')));
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<UserId>("\"../etc\"").is_err());
    }
}
