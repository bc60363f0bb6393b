//! `keystroke-workbench serve`: the HTTP API, headless. Settings come from flags, then the
//! spec's `KW_*` environment variables, then the old backend's names (`FLASK_HOST`,
//! `FLASK_PORT`, `MIN_SAMPLES`, `CONTAMINATION`, `RANDOM_STATE`), then the defaults.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use chrono::Local;
use clap::Args;

use keystroke_core::auth::Throttle;
use keystroke_core::detect;
use keystroke_core::detect::SecurityLevel;
use keystroke_core::detect::{Contamination, DetectorKind, DetectorParams, IsolationForest};
use keystroke_core::store::Store;
use keystroke_server::api::{Api, ApiConfig, Cors, DEFAULT_MIN_SAMPLES, DEFAULT_MODEL_CACHE_BYTES};
use keystroke_server::{ServerConfig, ServerHandle, TlsFiles, default_workers};

/// Arguments of `serve`. Each falls back to the environment variables named in its help.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: KW_HOST, FLASK_HOST] [default: 0.0.0.0]
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,
    /// Port [env: KW_PORT, FLASK_PORT] [default: 5000; 0 = any free port]
    #[arg(long)]
    pub port: Option<u16>,
    /// Model store folder [env: KW_MODELS_DIR] [default: user_models]
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Samples before a user's model is trained [env: KW_MIN_SAMPLES, MIN_SAMPLES] [default: 5]
    #[arg(long, value_name = "N")]
    pub min_samples: Option<usize>,
    /// The detector /train fits: any of `eval`'s detectors; `fusion` (also `auto`) has the lowest
    /// error rates across the bundled data sets (docs/detectors.md); `isolation-forest` answers
    /// with scikit-learn's decision_function, as the old backend did [env: KW_DETECTOR]
    /// [default: fusion]
    #[arg(long, value_name = "NAME|auto")]
    pub detector: Option<String>,
    /// Template update: an attempt accepted well above the threshold joins the user's N newest
    /// accepted attempts, and the model is retrained on them and the enrolment samples; 0 = off
    /// [env: KW_TEMPLATE_UPDATE] [default: 0]
    #[arg(long, value_name = "N")]
    pub template_update: Option<usize>,
    /// With template update: an attempt is taken only if it scores at or above every other
    /// user's first samples of the same phrase, so that no one else's typing can creep into a
    /// template (impostor attempts taken fall below 1 % on every bundled set, and the error
    /// rate gains less: docs/detectors.md, "Template update") [env: KW_UPDATE_COHORT]
    /// [default: true]
    #[arg(long, value_name = "true|false")]
    pub update_cohort: Option<bool>,
    /// Which of each model's thresholds /predict judges by: convenient (fewest genuine
    /// rejections), balanced (false accepts and rejects about alike), strict (fewest impostors
    /// accepted); the rates of each are in docs/detectors.md. The isolation forest keeps
    /// scikit-learn's threshold at every level [env: KW_SECURITY] [default: balanced]
    #[arg(long, value_name = "LEVEL")]
    pub security: Option<SecurityLevel>,
    /// Isolation-forest contamination, a fraction in (0, 0.5] or `auto`; any of the three forest
    /// settings, given without --detector, selects the isolation forest [env: KW_CONTAMINATION,
    /// CONTAMINATION] [default: 0.1]
    #[arg(long, value_name = "FRACTION|auto")]
    pub contamination: Option<Contamination>,
    /// Isolation-forest trees [env: KW_N_ESTIMATORS] [default: 100]
    #[arg(long, value_name = "N")]
    pub n_estimators: Option<usize>,
    /// Isolation-forest seed [env: KW_RANDOM_STATE, RANDOM_STATE] [default: 42]
    #[arg(long, value_name = "SEED")]
    pub random_state: Option<u64>,
    /// Requests answered at a time [env: KW_WORKERS] [default: 16 per core, at least 32]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Open connections at most; one more is answered 503 and closed [env:
    /// KW_MAX_CONNECTIONS] [default: half the open-file limit left after 64, 16–4,096]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Memory for cached models, in MiB [env: KW_MODEL_CACHE_MB] [default: 256]
    #[arg(long, value_name = "MIB")]
    pub model_cache_mb: Option<usize>,
    /// Origins allowed by CORS: `*` or a comma-separated list [env: KW_CORS_ORIGINS]
    /// [default: none, no CORS headers]
    #[arg(long, value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// Failed /predict calls in a row that lock a user out; 0 = never [env: KW_MAX_FAILURES]
    /// [default: 5]
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u32>,
    /// First lockout in seconds, doubling on each repeat [env: KW_LOCKOUT_SECONDS] [default: 30]
    #[arg(long, value_name = "S")]
    pub lockout_seconds: Option<u64>,
    /// `full` confidence scores, or `hidden`: only their sign (±1.0) [env: KW_SCORES]
    /// [default: full]
    #[arg(long, value_name = "full|hidden")]
    pub scores: Option<String>,
    /// Serve HTTPS with this PEM certificate chain; needs --tls-key. `tls-cert` makes a
    /// self-signed pair [env: KW_TLS_CERT] [default: plain HTTP]
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM) [env: KW_TLS_KEY]
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Log level: off, error, warn, info (one line per request), debug [env: KW_LOG]
    /// [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log: Option<String>,
    /// Most samples one user may store; /train beyond it gets 403 [env: KW_MAX_SAMPLES_PER_USER]
    /// [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_samples_per_user: Option<usize>,
    /// Most users the store may hold; a new user's /train beyond it gets 403 [env: KW_MAX_USERS]
    /// [default: 100000]
    #[arg(long, value_name = "N")]
    pub max_users: Option<usize>,
    /// Free space kept on the store's disk, in MiB: below it /train gets 507, /predict and /info
    /// still work [env: KW_MIN_FREE_MB] [default: 64]
    #[arg(long, value_name = "MIB")]
    pub min_free_mb: Option<u64>,
}

/// Everything `serve` runs with. The API token is read from `KW_API_TOKEN` only, never a flag
/// (a flag shows in the process list).
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    /// The transport.
    pub server: ServerConfig,
    /// The API.
    pub api: ApiConfig,
    /// The store folder.
    pub models: PathBuf,
    /// The log filter.
    pub log: String,
    /// Settings that were given but do not apply, to log at start-up.
    pub warnings: Vec<String>,
}

/// The isolation forest's settings' variables, newest name first (the old backend's last).
const CONTAMINATION_VARS: &[&str] = &["KW_CONTAMINATION", "CONTAMINATION"];
const N_ESTIMATORS_VARS: &[&str] = &["KW_N_ESTIMATORS"];
const RANDOM_STATE_VARS: &[&str] = &["KW_RANDOM_STATE", "RANDOM_STATE"];

impl ServeArgs {
    /// Resolves the settings, reading the environment through `env`.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<ServeSettings> {
        let lookup = Lookup { env };
        // The forest's settings are read only when the forest is the detector: beside another
        // one they are ignored, bad values included.
        let forest = || -> anyhow::Result<DetectorParams> {
            let defaults = IsolationForest::params();
            let contamination = lookup.value(
                self.contamination,
                CONTAMINATION_VARS,
                defaults.get_contamination(),
            )?;
            let n_estimators =
                lookup.value(self.n_estimators, N_ESTIMATORS_VARS, defaults.get_n_trees())?;
            let seed = lookup.value(self.random_state, RANDOM_STATE_VARS, defaults.get_seed())?;
            let forest = defaults
                .n_trees(n_estimators)
                .contamination(contamination)
                .seed(seed);
            forest
                .validate()
                .context("invalid isolation-forest settings")?;
            Ok(DetectorParams::new(forest))
        };
        // A forest setting (the old backend's variables among them) without a detector named
        // keeps the old backend's detector; beside another detector it is ignored, and said so.
        let forest_setting = [
            (
                self.contamination.is_some(),
                "--contamination",
                CONTAMINATION_VARS,
            ),
            (
                self.n_estimators.is_some(),
                "--n-estimators",
                N_ESTIMATORS_VARS,
            ),
            (
                self.random_state.is_some(),
                "--random-state",
                RANDOM_STATE_VARS,
            ),
        ]
        .into_iter()
        .find_map(|(flag, flag_name, names)| lookup.given(flag, flag_name, names));
        let named: Option<String> = lookup.optional(self.detector.clone(), "KW_DETECTOR")?;
        let mut warnings = Vec::new();
        let detector = match (named.as_deref(), forest_setting) {
            (Some("isolation-forest"), _) | (None, Some(_)) => forest()?,
            (Some(name), setting) => {
                let kind = match name {
                    "auto" => detect::DEFAULT_DETECTOR,
                    name => name
                        .parse::<DetectorKind>()
                        .map_err(|e| anyhow::anyhow!("KW_DETECTOR: {e}, auto"))?,
                };
                if let Some(setting) = setting {
                    warnings.push(format!(
                        "{setting} is an isolation-forest setting and the detector is {}: it is \
                         ignored (KW_DETECTOR=isolation-forest would use it)",
                        kind.id()
                    ));
                }
                kind.default_params()
            }
            (None, None) => detect::DEFAULT_DETECTOR.default_params(),
        };
        let template_window = lookup.value(self.template_update, &["KW_TEMPLATE_UPDATE"], 0)?;
        let min_samples = lookup.value(
            self.min_samples,
            &["KW_MIN_SAMPLES", "MIN_SAMPLES"],
            DEFAULT_MIN_SAMPLES,
        )?;
        anyhow::ensure!(
            min_samples >= 1,
            "the minimum number of samples must be at least 1"
        );
        let fewest = detector.kind().min_rows();
        if min_samples < fewest {
            warnings.push(format!(
                "the minimum number of samples is {min_samples}, but the {} detector needs {fewest}: \
                 users are trained once they have {fewest}",
                detector.kind().id()
            ));
        }
        let min_samples = min_samples.max(fewest);
        let workers = lookup.value(self.workers, &["KW_WORKERS"], default_workers())?;
        anyhow::ensure!(workers >= 1, "KW_WORKERS must be at least 1");
        let cache_mb = lookup.value(
            self.model_cache_mb,
            &["KW_MODEL_CACHE_MB"],
            DEFAULT_MODEL_CACHE_BYTES >> 20,
        )?;
        let cors = lookup.value(
            self.cors_origins.clone(),
            &["KW_CORS_ORIGINS"],
            String::new(),
        )?;
        let api_token = match env("KW_API_TOKEN") {
            Some(token) if token.trim().is_empty() => anyhow::bail!(
                "KW_API_TOKEN is set but empty: set it to the token clients must send, or \
                 unset it to run without one"
            ),
            token => token,
        };
        let max_connections = lookup.optional(self.max_connections, "KW_MAX_CONNECTIONS")?;
        anyhow::ensure!(
            max_connections != Some(0),
            "KW_MAX_CONNECTIONS must be at least 1"
        );
        let scores = lookup.value(self.scores.clone(), &["KW_SCORES"], "full".to_string())?;
        anyhow::ensure!(
            scores == "full" || scores == "hidden",
            "KW_SCORES={scores:?} is invalid: use full or hidden"
        );
        let throttle = Throttle {
            max_failures: lookup.value(self.max_failures, &["KW_MAX_FAILURES"], 5)?,
            lockout: Duration::from_secs(lookup.value(
                self.lockout_seconds,
                &["KW_LOCKOUT_SECONDS"],
                30,
            )?),
        };
        let tls = match (
            lookup.optional(self.tls_cert.clone(), "KW_TLS_CERT")?,
            lookup.optional(self.tls_key.clone(), "KW_TLS_KEY")?,
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key (or KW_TLS_KEY)"),
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert (or KW_TLS_CERT)"),
        };
        Ok(ServeSettings {
            server: ServerConfig {
                host: lookup.value(
                    self.host.clone(),
                    &["KW_HOST", "FLASK_HOST"],
                    "0.0.0.0".into(),
                )?,
                port: lookup.value(self.port, &["KW_PORT", "FLASK_PORT"], 5000)?,
                workers,
                max_connections,
                tls,
                ..ServerConfig::default()
            },
            api: ApiConfig {
                min_samples,
                detector,
                api_token,
                cors: Cors::parse(&cors),
                model_cache_bytes: cache_mb.saturating_mul(1 << 20),
                throttle,
                hide_scores: scores == "hidden",
                template_window,
                update_cohort: lookup.value(self.update_cohort, &["KW_UPDATE_COHORT"], true)?,
                security: lookup.value(
                    self.security,
                    &["KW_SECURITY"],
                    SecurityLevel::default(),
                )?,
                max_samples_per_user: lookup.value(
                    self.max_samples_per_user,
                    &["KW_MAX_SAMPLES_PER_USER"],
                    keystroke_server::api::DEFAULT_MAX_SAMPLES_PER_USER,
                )?,
                max_users: lookup.value(
                    self.max_users,
                    &["KW_MAX_USERS"],
                    keystroke_server::api::DEFAULT_MAX_USERS,
                )?,
                min_free_bytes: lookup
                    .value(
                        self.min_free_mb,
                        &["KW_MIN_FREE_MB"],
                        keystroke_server::api::DEFAULT_MIN_FREE_BYTES >> 20,
                    )?
                    .saturating_mul(1 << 20),
            },
            models: lookup.value(
                self.models.clone(),
                &["KW_MODELS_DIR"],
                "user_models".into(),
            )?,
            log: lookup.value(self.log.clone(), &["KW_LOG"], "info".into())?,
            warnings,
        })
    }
}

struct Lookup<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Lookup<'_> {
    /// The flag, else the first non-empty variable of `names`, else `default`.
    fn value<T: FromStr>(&self, flag: Option<T>, names: &[&str], default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        if let Some(value) = flag {
            return Ok(value);
        }
        for name in names {
            if let Some(value) = self.optional(None, name)? {
                return Ok(value);
            }
        }
        Ok(default)
    }

    /// What sets a value: `flag_name` when the flag is `given`, else the first variable of
    /// `names` that is set and not empty.
    fn given(&self, given: bool, flag_name: &str, names: &[&str]) -> Option<String> {
        if given {
            return Some(flag_name.to_string());
        }
        names
            .iter()
            .find(|name| (self.env)(name).is_some_and(|v| !v.trim().is_empty()))
            .map(|name| name.to_string())
    }

    /// The flag, else the variable `name` if it is set and not empty.
    fn optional<T: FromStr>(&self, flag: Option<T>, name: &str) -> anyhow::Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        if flag.is_some() {
            return Ok(flag);
        }
        match (self.env)(name).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}")),
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then finishes the requests in flight and exits.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve(&|name| std::env::var(name).ok())?;
    env_logger::Builder::new()
        .parse_filters(&settings.log)
        .format_timestamp_millis()
        .init();
    for warning in &settings.warnings {
        log::warn!("{warning}");
    }
    let store =
        Arc::new(Store::open(&settings.models).with_context(|| {
            format!("cannot open the model store {}", settings.models.display())
        })?);
    report_legacy_users(&store);
    let api = Arc::new(Api::new(Arc::clone(&store), settings.api.clone()));
    let server = ServerHandle::start(Arc::clone(&api), &settings.server)?;
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")?;
    println!(
        "Keystroke Workbench API serving {} (store {})",
        settings.server.host,
        store.dir().display()
    );
    // Everything but the URLs comes first: a supervisor or test may stop reading after them.
    for url in server.urls() {
        println!("  collection page: {url}/collect");
    }
    if let Some(code) = api.issue_enrolment_code(Local::now().naive_local(), None) {
        println!("  /train needs the bearer token from KW_API_TOKEN");
        println!(
            "  enrolment code for the collection page: {} (one participant, until {}; \
             POST /enrolment-code with the token for another)",
            code.code,
            code.expires_at.format("%H:%M")
        );
    }
    println!("  API:");
    for url in server.urls() {
        println!("  {url}");
    }
    log::info!(
        "listening on {} (at most {} connections)",
        server.addr(),
        server.max_connections()
    );
    let listener_failed = loop {
        match stop_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break false,
            Err(mpsc::RecvTimeoutError::Timeout) if !server.is_listening() => break true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    };
    log::info!("stopping: finishing requests in flight");
    let counts = server.stats().counts();
    server.stop();
    log::info!("stopped after {} requests", counts.requests);
    anyhow::ensure!(
        !listener_failed,
        "the listening socket failed and accepts no connections (see the log above); exiting so \
         a supervisor can restart the server"
    );
    Ok(())
}

/// Logs the old backend's users, who must enrol again.
fn report_legacy_users(store: &Store) {
    match store.legacy_users() {
        Ok(users) if users.is_empty() => {}
        Ok(users) => {
            let names: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
            log::warn!(
                "{} user(s) were enrolled by the old backend and must enrol again (their old \
                 files are never read): {}",
                users.len(),
                names.join(", ")
            );
        }
        Err(e) => log::error!("cannot list the store's users: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(args: &ServeArgs, env: &[(&str, &str)]) -> anyhow::Result<ServeSettings> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        args.resolve(&|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = resolve(&ServeArgs::default(), &[]).unwrap();
        assert_eq!(s.server.host, "0.0.0.0");
        assert_eq!(s.server.port, 5000);
        assert_eq!(s.models, PathBuf::from("user_models"));
        assert_eq!(s.api.min_samples, 5);
        assert_eq!(s.api.detector, DetectorParams::new(detect::Fusion));
        assert_eq!(s.api.api_token, None);
        assert_eq!(s.api.cors, Cors::Off);
        assert_eq!(s.log, "info");
    }

    #[test]
    fn flags_beat_kw_variables_which_beat_the_old_names() {
        let env = [
            ("KW_PORT", "6000"),
            ("FLASK_PORT", "7000"),
            ("FLASK_HOST", "127.0.0.1"),
            ("MIN_SAMPLES", "8"),
            ("CONTAMINATION", "auto"),
            ("RANDOM_STATE", "7"),
            ("KW_API_TOKEN", "s3cret"),
            ("KW_CORS_ORIGINS", "*"),
        ];
        let s = resolve(&ServeArgs::default(), &env).unwrap();
        assert_eq!(s.server.port, 6000);
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.api.min_samples, 8);
        assert_eq!(
            s.api.detector,
            DetectorParams::new(
                IsolationForest::params()
                    .contamination(Contamination::Auto)
                    .seed(7)
            )
        );
        assert_eq!(s.api.api_token.as_deref(), Some("s3cret"));
        assert_eq!(s.api.cors, Cors::Any);
        let flags = ServeArgs {
            port: Some(8000),
            ..ServeArgs::default()
        };
        assert_eq!(resolve(&flags, &env).unwrap().server.port, 8000);
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = resolve(&ServeArgs::default(), &[("FLASK_PORT", "five")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("FLASK_PORT=\"five\" is invalid"),
            "{err}"
        );
        let err = resolve(&ServeArgs::default(), &[("KW_CONTAMINATION", "0.9")]).unwrap_err();
        assert!(err.to_string().contains("KW_CONTAMINATION"), "{err}");
        let err = resolve(&ServeArgs::default(), &[("KW_SCORES", "rounded")]).unwrap_err();
        assert!(err.to_string().contains("KW_SCORES"), "{err}");
        assert!(
            resolve(&ServeArgs::default(), &[("KW_SCORES", "hidden")])
                .unwrap()
                .api
                .hide_scores
        );
        let err = resolve(&ServeArgs::default(), &[("KW_MIN_SAMPLES", "0")]).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = resolve(&ServeArgs::default(), &[("KW_API_TOKEN", "")]).unwrap_err();
        assert!(
            err.to_string().starts_with("KW_API_TOKEN is set but empty"),
            "{err}"
        );
        let err = resolve(&ServeArgs::default(), &[("KW_MAX_CONNECTIONS", "0")]).unwrap_err();
        assert!(err.to_string().contains("KW_MAX_CONNECTIONS"), "{err}");
        let err = resolve(&ServeArgs::default(), &[("KW_DETECTOR", "svm")]).unwrap_err();
        assert!(
            err.to_string().starts_with("KW_DETECTOR: unknown detector"),
            "{err}"
        );
    }

    #[test]
    fn forest_settings_keep_the_forest_and_are_ignored_beside_another_detector() {
        let forest = |n| DetectorParams::new(IsolationForest::params().n_trees(n));
        // The old backend's variables alone keep its detector.
        let s = resolve(&ServeArgs::default(), &[("KW_N_ESTIMATORS", "50")]).unwrap();
        assert_eq!((s.api.detector, s.warnings.len()), (forest(50), 0));
        let env = [
            ("KW_DETECTOR", "isolation-forest"),
            ("KW_N_ESTIMATORS", "60"),
        ];
        let s = resolve(&ServeArgs::default(), &env).unwrap();
        assert_eq!((s.api.detector, s.warnings.len()), (forest(60), 0));
        // Ignored beside another detector, even when it would not parse.
        let odd = [("KW_DETECTOR", "fusion"), ("CONTAMINATION", "lots")];
        assert_eq!(
            resolve(&ServeArgs::default(), &odd).unwrap().warnings.len(),
            1
        );
        // Beside another detector: that detector, and a warning naming the setting.
        for detector in ["fusion", "auto"] {
            let env = [("KW_DETECTOR", detector), ("RANDOM_STATE", "7")];
            let s = resolve(&ServeArgs::default(), &env).unwrap();
            assert_eq!(s.api.detector, DetectorParams::new(detect::Fusion));
            assert_eq!(
                s.warnings,
                [
                    "RANDOM_STATE is an isolation-forest setting and the detector is fusion: it is \
                  ignored (KW_DETECTOR=isolation-forest would use it)"
                ]
            );
        }
        let flags = ServeArgs {
            detector: Some("outlier-count".into()),
            contamination: Some(Contamination::Auto),
            ..ServeArgs::default()
        };
        let s = resolve(&flags, &[]).unwrap();
        assert!(
            s.warnings[0].starts_with("--contamination is"),
            "{:?}",
            s.warnings
        );
        assert!(
            resolve(&ServeArgs::default(), &[])
                .unwrap()
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn a_minimum_below_what_the_detector_fits_on_is_raised_with_a_warning() {
        let s = resolve(&ServeArgs::default(), &[("KW_MIN_SAMPLES", "1")]).unwrap();
        assert_eq!(s.api.min_samples, 2);
        assert!(
            s.warnings[0].contains("the fusion detector needs 2"),
            "{:?}",
            s.warnings
        );
        let env = [("KW_MIN_SAMPLES", "1"), ("KW_DETECTOR", "tempo-tolerant")];
        let s = resolve(&ServeArgs::default(), &env).unwrap();
        assert_eq!((s.api.min_samples, s.warnings.len()), (1, 0));
    }

    #[test]
    fn detector_and_template_update_are_opt_in() {
        let s = resolve(&ServeArgs::default(), &[]).unwrap();
        assert_eq!(s.api.template_window, 0);
        let env = [("KW_DETECTOR", "auto"), ("KW_TEMPLATE_UPDATE", "20")];
        let s = resolve(&ServeArgs::default(), &env).unwrap();
        assert_eq!(s.api.detector, DetectorParams::new(detect::Fusion));
        assert_eq!(s.api.template_window, 20);
        assert_eq!(s.api.security, SecurityLevel::Balanced);
        let s = resolve(&ServeArgs::default(), &[("KW_SECURITY", "strict")]).unwrap();
        assert_eq!(s.api.security, SecurityLevel::Strict);
        let err = resolve(&ServeArgs::default(), &[("KW_SECURITY", "lax")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("known: convenient, balanced, strict"),
            "{err}"
        );
        let flags = ServeArgs {
            detector: Some("manhattan-scaled".into()),
            ..ServeArgs::default()
        };
        let s = resolve(&flags, &env).unwrap();
        assert_eq!(s.api.detector, DetectorParams::new(detect::ManhattanScaled));
    }
}
