//! The API's paths and the methods each takes.

use percent_encoding::percent_decode_str;

use keystroke_core::store::UserId;

use crate::page::{self, Asset};

/// The path of a request target, without its query.
pub fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// A known path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/health`.
    Health,
    /// `/train`.
    Train,
    /// `/predict`.
    Predict,
    /// `/user/{user_id}/info`, with the id as it appeared in the path (percent-encoded).
    UserInfo(String),
    /// `/user/{user_id}` (deletion), the id as in the path.
    User(String),
    /// `/enrolment-code`: a new code for the collection page (admin: needs the token).
    EnrolmentCode,
    /// The collection page (`/`, `/collect`) or one of its files.
    Page(&'static Asset),
}

impl Route {
    /// The route of a request target (path and optional query); `None` for an unknown path.
    pub fn of(target: &str) -> Option<Route> {
        let path = path_of(target);
        match path {
            "/health" => Some(Route::Health),
            "/train" => Some(Route::Train),
            "/predict" => Some(Route::Predict),
            "/enrolment-code" => Some(Route::EnrolmentCode),
            _ if page::asset(path).is_some() => page::asset(path).map(Route::Page),
            _ => {
                let rest = path.strip_prefix("/user/")?;
                let (id, info) = match rest.strip_suffix("/info") {
                    Some(id) => (id, true),
                    None => (rest, false),
                };
                if id.is_empty() || id.contains('/') {
                    return None;
                }
                Some(if info {
                    Route::UserInfo(id.to_string())
                } else {
                    Route::User(id.to_string())
                })
            }
        }
    }

    /// Methods the route answers, for `Allow` headers and 405s.
    pub fn methods(&self) -> &'static [&'static str] {
        match self {
            Route::Health | Route::UserInfo(_) | Route::Page(_) => &["GET", "HEAD", "OPTIONS"],
            Route::Train | Route::Predict | Route::EnrolmentCode => &["POST", "OPTIONS"],
            Route::User(_) => &["DELETE", "OPTIONS"],
        }
    }
}

/// The user id of a `/user/{user_id}/info` path: percent-decoded (`+` stays `+`), then
/// validated like an id in a body.
pub fn path_user_id(raw: &str) -> Result<UserId, PathIdError> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathIdError::NotUtf8)?;
    Ok(UserId::parse(&decoded)?)
}

/// Why a path's user id was refused (the 400 message).
#[derive(Debug, thiserror::Error)]
pub enum PathIdError {
    /// Not UTF-8 once percent-decoded.
    #[error("user_id in the path is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// Not a valid id.
    #[error(transparent)]
    Invalid(#[from] keystroke_core::store::UserIdError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_known_paths_and_ignores_the_query() {
        assert_eq!(Route::of("/health"), Some(Route::Health));
        assert_eq!(Route::of("/health?probe=1"), Some(Route::Health));
        assert_eq!(Route::of("/train"), Some(Route::Train));
        assert_eq!(Route::of("/predict"), Some(Route::Predict));
        assert_eq!(
            Route::of("/user/alice%40example.com/info"),
            Some(Route::UserInfo("alice%40example.com".into()))
        );
        assert_eq!(Route::of("/"), Some(Route::Page(&page::COLLECT_HTML)));
        assert_eq!(
            Route::of("/collect?mode=demo"),
            Some(Route::Page(&page::COLLECT_HTML))
        );
        assert_eq!(
            Route::of("/collect.js"),
            Some(Route::Page(&page::COLLECT_JS))
        );
        for unknown in [
            "/collect/",
            "/health/",
            "/user//info",
            "/user/a/b/info",
            "/users/a/info",
        ] {
            assert_eq!(Route::of(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn decodes_e_mail_ids_and_keeps_plus() {
        assert_eq!(
            path_user_id("bob+test%40lab.org").unwrap().as_str(),
            "bob+test@lab.org"
        );
        assert_eq!(
            path_user_id("alice@example.com").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn refuses_ids_that_name_another_place() {
        for raw in [
            "..%2Fetc", "a%2Fb", "a%5Cb", "a%00b", ".hidden", "%2e%2e", "%ff",
        ] {
            assert!(path_user_id(raw).is_err(), "{raw}");
        }
    }
}
