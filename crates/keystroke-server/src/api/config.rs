//! What the API is configured with (the spec's "Configuration" section, minus the transport).

use keystroke_core::auth::Throttle;
use keystroke_core::detect::{DetectorParams, SecurityLevel};

pub use keystroke_core::auth::{
    DEFAULT_MAX_SAMPLES_PER_USER, DEFAULT_MAX_USERS, DEFAULT_MIN_FREE_BYTES, DEFAULT_MIN_SAMPLES,
    DEFAULT_MODEL_CACHE_BYTES,
};

/// API settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Samples a user needs before their model is trained (≥ 1).
    pub min_samples: usize,
    /// The detector /train fits.
    pub detector: DetectorParams,
    /// When set, /train needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// Cross-origin access for browser clients.
    pub cors: Cors,
    /// Memory the cache of loaded models may use before it evicts the least recently used.
    pub model_cache_bytes: usize,
    /// Lockout after repeated failed /predict calls.
    pub throttle: Throttle,
    /// `KW_SCORES=hidden`: /predict reports `confidence_score` as its sign only (±1.0), so a
    /// caller cannot climb the score step by step towards acceptance.
    pub hide_scores: bool,
    /// Template update (`KW_TEMPLATE_UPDATE`): a /predict accepted well above the threshold
    /// joins the user's newest this-many accepted attempts and the model is retrained on them
    /// and the enrolment samples; 0 = off.
    pub template_window: usize,
    /// Template update also requires an attempt to score at or above every other user's
    /// samples of the phrase (`KW_UPDATE_COHORT`, on by default).
    pub update_cohort: bool,
    /// Most samples a user may store; /train beyond it is refused (`KW_MAX_SAMPLES_PER_USER`).
    pub max_samples_per_user: usize,
    /// Most users the store may hold; a new user's /train beyond it is refused (`KW_MAX_USERS`).
    /// Counted when a new user's first sample arrives, so first samples arriving at the same
    /// moment from several writers may pass it by as many.
    pub max_users: usize,
    /// Free space (bytes) /train leaves on the store's file system: below it, /train answers
    /// 507 while /predict and /info keep working (`KW_MIN_FREE_MB`).
    pub min_free_bytes: u64,
    /// Which of each model's thresholds /predict judges by (`KW_SECURITY`).
    pub security: SecurityLevel,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            min_samples: DEFAULT_MIN_SAMPLES,
            detector: DetectorParams::default(),
            api_token: None,
            cors: Cors::Off,
            model_cache_bytes: DEFAULT_MODEL_CACHE_BYTES,
            throttle: Throttle::default(),
            hide_scores: false,
            template_window: 0,
            update_cohort: true,
            max_samples_per_user: DEFAULT_MAX_SAMPLES_PER_USER,
            max_users: DEFAULT_MAX_USERS,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            security: SecurityLevel::default(),
        }
    }
}

/// Which browser origins may call the API (`KW_CORS_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers (the default; the mobile app needs none).
    Off,
    /// `*`: any origin.
    Any,
    /// These origins, exactly.
    Origins(Vec<String>),
}

impl Cors {
    /// Parses `KW_CORS_ORIGINS`: empty = off, `*`, or a comma-separated list of origins.
    pub fn parse(value: &str) -> Cors {
        let value = value.trim();
        if value.is_empty() {
            Cors::Off
        } else if value == "*" {
            Cors::Any
        } else {
            Cors::Origins(
                value
                    .split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect(),
            )
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        match self {
            Cors::Off => None,
            Cors::Any => Some("*".into()),
            Cors::Origins(list) => {
                let origin = origin?;
                list.iter().any(|o| o == origin).then(|| origin.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cors_settings() {
        assert_eq!(Cors::parse(""), Cors::Off);
        assert_eq!(Cors::parse("*"), Cors::Any);
        let list = Cors::parse("https://a.example, http://b.example:8080/");
        assert_eq!(
            list,
            Cors::Origins(vec![
                "https://a.example".into(),
                "http://b.example:8080".into()
            ])
        );
        assert_eq!(
            list.allow_origin(Some("http://b.example:8080")).as_deref(),
            Some("http://b.example:8080")
        );
        assert_eq!(list.allow_origin(Some("https://evil.example")), None);
        assert_eq!(list.allow_origin(None), None);
        assert_eq!(Cors::Any.allow_origin(None).as_deref(), Some("*"));
    }
}
