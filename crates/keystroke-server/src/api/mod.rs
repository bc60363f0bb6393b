//! The HTTP API of `spec/api.md` as plain functions over the model store: a [`Request`] in, a
//! [`Response`] out, no sockets. The server (the crate root) only decodes HTTP, calls
//! [`Api::handle`] and encodes the answer; tests call it directly.

mod audit;
pub mod body;
mod config;
mod enrolment;
mod routes;

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde_json::{Value, json};

pub use audit::{AUDIT_FILE, AuditEvent, AuditLog};
pub use config::{
    ApiConfig, Cors, DEFAULT_MAX_SAMPLES_PER_USER, DEFAULT_MAX_USERS, DEFAULT_MIN_FREE_BYTES,
    DEFAULT_MIN_SAMPLES, DEFAULT_MODEL_CACHE_BYTES,
};
pub use enrolment::{Admission, CODE_LIFETIME, CodeRefusal, EnrolmentCodes, IssuedCode};
use keystroke_core::auth::{
    EnrolConfig, EnrolError, Enrolled, Lookup, ModelCache, Verifier, VerifyConfig, VerifyError,
    enrol,
};
use keystroke_core::store::{Store, StoreError, UserId, format_time};
pub use routes::{Route, path_of as target_path};

use crate::page::{self, Asset};
use body::{AttemptLabel, Decoded};

/// `service` of /health.
pub const SERVICE_NAME: &str = "Keystroke Dynamics Authentication API";

/// `error` of a /predict for a user without a model.
pub const NO_MODEL: &str = "User model not found. Please train the model first.";

/// The parts of an HTTP request the API reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The request target: path and optional query, as sent.
    pub target: &'a str,
    /// The body (already bounded by the transport).
    pub body: &'a [u8],
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Host` header (the collection page's own origin is admitted by it).
    pub host: Option<&'a str>,
    /// The `X-Enrolment-Code` header (the collection page's enrolment with a token set).
    pub enrolment_code: Option<&'a str>,
    /// The client's address, for the audit log.
    pub client: Option<&'a str>,
}

/// An answer: a status, a JSON body and extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Headers besides `Content-Type` (`application/json`, or the asset's).
    pub headers: Vec<(&'static str, String)>,
    /// The user the request was about, for the request log.
    pub user: Option<UserId>,
    /// A file of the collection page, sent instead of `body`.
    pub asset: Option<&'static Asset>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            body,
            headers: Vec::new(),
            user: None,
            asset: None,
        }
    }

    /// A file of the collection page, with its security headers.
    pub fn page(asset: &'static Asset) -> Response {
        let mut response = Response::json(200, Value::Null);
        response.asset = Some(asset);
        response.headers.extend(page::security_headers());
        response
    }

    /// `Content-Type` of the answer.
    pub fn content_type(&self) -> &'static str {
        self.asset.map_or("application/json", |a| a.content_type)
    }

    /// `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response::json(status, json!({ "error": message.into() }))
    }

    fn for_user(mut self, user: &UserId) -> Response {
        self.user = Some(user.clone());
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The body as bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        match self.asset {
            Some(asset) => asset.bytes.to_vec(),
            None => serde_json::to_vec(&self.body).expect("JSON values serialise"),
        }
    }
}

/// The API over one model store.
#[derive(Debug)]
pub struct Api {
    store: Arc<Store>,
    config: ApiConfig,
    enrol: EnrolConfig,
    verifier: Verifier,
    audit: AuditLog,
    codes: EnrolmentCodes,
}

impl Api {
    /// The API over `store` (shared with the caller, e.g. the GUI).
    pub fn new(store: Arc<Store>, mut config: ApiConfig) -> Api {
        // Never train on fewer samples than the detector fits on.
        config.min_samples = config.min_samples.max(config.detector.kind().min_rows());
        let verifier = Verifier::new(
            Arc::clone(&store),
            VerifyConfig {
                throttle: config.throttle,
                template_window: config.template_window,
                security: config.security,
                update_cohort: config.update_cohort,
            },
            ModelCache::new(config.model_cache_bytes),
        );
        let audit = AuditLog::new(Arc::clone(&store));
        let enrol = EnrolConfig {
            min_samples: config.min_samples,
            detector: Some(config.detector.clone()),
            max_samples_per_user: config.max_samples_per_user,
            max_users: config.max_users,
            min_free_bytes: config.min_free_bytes,
        };
        Api {
            store,
            config,
            enrol,
            verifier,
            audit,
            codes: EnrolmentCodes::default(),
        }
    }

    /// A new enrolment code for the collection page, valid from `now` for [`CODE_LIFETIME`],
    /// for a new participant or for `participant`; `None` when no API token is set (the page
    /// then enrols without one).
    pub fn issue_enrolment_code(
        &self,
        now: NaiveDateTime,
        participant: Option<UserId>,
    ) -> Option<IssuedCode> {
        self.config.api_token.as_ref()?;
        Some(self.codes.issue(now, participant))
    }

    /// Writes the failed-attempt counts changed since the last call (a lockout is written at
    /// once); the server calls this in the background. Returns how many users were written.
    pub fn flush_throttle(&self) -> Result<usize, StoreError> {
        self.verifier.flush()
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The model cache.
    pub fn models(&self) -> &ModelCache {
        self.verifier.models()
    }

    /// Answers `request`; `now` is the server's local time.
    pub fn handle(&self, request: &Request<'_>, now: NaiveDateTime) -> Response {
        let response = match Route::of(request.target) {
            None => Response::error(404, format!("no such endpoint: {}", path_of(request))),
            Some(route) => self.dispatch(&route, request, now),
        };
        self.with_cors(response, request)
    }

    fn dispatch(&self, route: &Route, request: &Request<'_>, now: NaiveDateTime) -> Response {
        let allowed = route.methods();
        let method = request.method;
        if !allowed.contains(&method) {
            return Response::error(
                405,
                format!(
                    "{method} is not allowed on {}; use {}",
                    path_of(request),
                    allowed.join(", ")
                ),
            )
            .header("Allow", allowed.join(", "));
        }
        if method == "OPTIONS" {
            return Response::json(200, json!({ "allow": allowed }))
                .header("Allow", allowed.join(", "));
        }
        let result = match route {
            Route::Health => Ok(self.health(now)),
            Route::Train => self.train(request, now),
            Route::Predict => self.predict(request, now),
            Route::UserInfo(raw) => self.info(raw),
            Route::User(raw) => self.delete(request, raw, now),
            Route::EnrolmentCode => self.enrolment_code(request, now),
            Route::Page(asset) => Ok(Response::page(asset)),
        };
        result.unwrap_or_else(|failure| failure)
    }

    fn with_cors(&self, mut response: Response, request: &Request<'_>) -> Response {
        if let Some(origin) = self.config.cors.allow_origin(request.origin) {
            if origin != "*" {
                response.headers.push(("Vary", "Origin".into()));
            }
            response
                .headers
                .push(("Access-Control-Allow-Origin", origin));
            if request.method == "OPTIONS" {
                response.headers.extend([
                    (
                        "Access-Control-Allow-Methods",
                        "GET, POST, DELETE, OPTIONS".into(),
                    ),
                    (
                        "Access-Control-Allow-Headers",
                        "Content-Type, Authorization, X-Enrolment-Code".into(),
                    ),
                    ("Access-Control-Max-Age", "600".into()),
                ]);
            }
        }
        response
    }

    fn health(&self, now: NaiveDateTime) -> Response {
        let mut body = json!({
            "status": "healthy",
            "service": SERVICE_NAME,
            "timestamp": format_time(now),
            "version": env!("CARGO_PKG_VERSION"),
            "enrolment_code_required": self.config.api_token.is_some(),
        });
        let trouble = self
            .verifier
            .failing()
            .or_else(|| self.store.writable().err().map(|e| e.to_string()))
            .or_else(|| {
                let damaged = self.store.throttle_log_readable().err()?;
                Some(format!(
                    "attempts are refused: {}",
                    damaged.public_message()
                ))
            });
        if let Some(reason) = trouble {
            body["status"] = "degraded".into();
            body["reason"] = reason.into();
        }
        Response::json(200, body)
    }

    /// Refuses a state-changing request from a web page whose origin `KW_CORS_ORIGINS` does
    /// not allow: a browser sends a cross-site "simple" POST without asking first, so the
    /// CORS headers alone would not stop it. Clients that send no `Origin` (the mobile app,
    /// curl) are not affected.
    fn same_site(&self, request: &Request<'_>) -> Result<(), Response> {
        match request.origin {
            Some(origin)
                if self.config.cors.allow_origin(Some(origin)).is_none()
                    && !own_page(origin, request.host) =>
            {
                Err(Response::error(
                    403,
                    format!(
                        "{} {} from the web page origin {origin:?} is refused: it is not in \
                         KW_CORS_ORIGINS",
                        request.method,
                        path_of(request)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    fn train(&self, request: &Request<'_>, now: NaiveDateTime) -> Result<Response, Response> {
        self.same_site(request)?;
        // The collection page enrols with a code instead of the token.
        let code = match self.authorize(request) {
            Ok(()) => None,
            Err(unauthorized) => Some(request.enrolment_code.ok_or(unauthorized)?),
        };
        let Decoded {
            user,
            sample,
            capture,
            ..
        } = body::decode(request.body).map_err(|e| bad_request(e.to_string()))?;
        let audit = |outcome: &str| {
            let outcome = match code {
                Some(_) => format!("{outcome} (enrolment code)"),
                None => outcome.to_string(),
            };
            self.audit.record(AuditEvent {
                at: now,
                endpoint: "POST /train",
                user: &user,
                outcome: &outcome,
                client: request.client,
            })
        };
        let admission = match code {
            None => None,
            Some(code) => {
                let enrolled = || self.store.paths(&user).metadata.exists();
                match self.codes.admit(code, &user, enrolled, now) {
                    Ok(admission) => Some(admission),
                    Err(refusal) => {
                        audit(&format!("refused 403: {refusal}"));
                        return Err(Response::error(403, refusal.to_string()).for_user(&user));
                    }
                }
            }
        };
        let min = self.config.min_samples;
        let enrolled = enrol(
            &self.store,
            &self.enrol,
            &user,
            &sample,
            capture.as_ref(),
            now,
        );
        if enrolled.is_err()
            && let (Some(code), Some(Admission::NewlyBound)) = (code, admission)
        {
            self.codes.release(code, &user);
        }
        let Enrolled {
            samples: count,
            trained,
            quality,
            ..
        } = match enrolled {
            Ok(done) => done,
            Err(refusal) => {
                let (refused, outcome) = train_refusal(&refusal);
                audit(&outcome);
                return Err(refused.for_user(&user));
            }
        };
        audit(if trained { "stored, trained" } else { "stored" });
        let mut body = json!({
            "status": "Training data received",
            "samples_count": count,
            "model_trained": trained,
        });
        if !trained {
            body["message"] = format!("Need {min} samples to train model").into();
        }
        if let Some(quality) = quality {
            // Extension: how consistent the sample is with the user's others.
            body["quality"] = json!(quality);
        }
        Ok(Response::json(200, body).for_user(&user))
    }

    /// `DELETE /user/{id}`: removes the user's files. Needs the API token, so it is refused
    /// outright when none is configured.
    fn delete(
        &self,
        request: &Request<'_>,
        raw_id: &str,
        now: NaiveDateTime,
    ) -> Result<Response, Response> {
        if self.config.api_token.is_none() {
            return Err(Response::error(
                403,
                "DELETE /user/{user_id} is disabled: set KW_API_TOKEN to enable it",
            ));
        }
        self.same_site(request)?;
        self.authorize(request)?;
        let user = routes::path_user_id(raw_id).map_err(|e| bad_request(e.to_string()))?;
        let deleted = self
            .store
            .with_user(&user, |w| {
                self.verifier.forget(&user);
                w.delete()
            })
            .map_err(|e| internal(&e).for_user(&user))?;
        self.audit.record(AuditEvent {
            at: now,
            endpoint: "DELETE /user",
            user: &user,
            outcome: if deleted { "deleted" } else { "not found" },
            client: request.client,
        });
        if !deleted {
            return Err(Response::error(404, format!("no user {user}")).for_user(&user));
        }
        Ok(
            Response::json(200, json!({"status": "deleted", "user_id": user.as_str()}))
                .for_user(&user),
        )
    }

    fn predict(&self, request: &Request<'_>, now: NaiveDateTime) -> Result<Response, Response> {
        self.same_site(request)?;
        let Decoded {
            user,
            sample,
            label,
            ..
        } = body::decode(request.body).map_err(|e| bad_request(e.to_string()))?;
        let verdict = self
            .verifier
            .verify(&user, &sample, now)
            .map_err(|e| refused(e).for_user(&user))?;
        if let Some(label) = label {
            // A labelled attempt (the collection page's impostor demo) is kept for the study.
            // The label is the client's claim (no credential is asked for), and says so.
            let outcome = match (label, verdict.accepted()) {
                (AttemptLabel::Impostor, true) => "impostor attempt accepted (client's label)",
                (AttemptLabel::Impostor, false) => "impostor attempt rejected (client's label)",
                (AttemptLabel::Genuine, true) => "genuine attempt accepted (client's label)",
                (AttemptLabel::Genuine, false) => "genuine attempt rejected (client's label)",
            };
            self.audit.record(AuditEvent {
                at: now,
                endpoint: "POST /predict",
                user: &user,
                outcome,
                client: request.client,
            });
        }
        if let Some(lockout) = verdict.lockout {
            self.audit.record(AuditEvent {
                at: now,
                endpoint: "POST /predict",
                user: &user,
                outcome: &format!("locked out {} s", lockout.as_secs()),
                client: request.client,
            });
        }
        let score = match (self.config.hide_scores, verdict.accepted()) {
            (false, _) => verdict.score,
            (true, true) => 1.0,
            (true, false) => -1.0,
        };
        let mut body = json!({
            "authenticated": verdict.accepted(),
            "confidence_score": score,
            "user_id": user.as_str(),
        });
        if let Some(rejection) = verdict.rejection {
            body["reason"] = rejection.reason().into();
        }
        Ok(Response::json(200, body).for_user(&user))
    }

    fn info(&self, raw_id: &str) -> Result<Response, Response> {
        let user = routes::path_user_id(raw_id).map_err(|e| bad_request(e.to_string()))?;
        let lookup = self
            .verifier
            .models()
            .get(&self.store, &user)
            .map_err(|e| internal(&e).for_user(&user))?;
        let mut body = json!({
            "user_id": user.as_str(),
            "training_samples": 0,
            "has_trained_model": false,
            "min_samples_required": self.config.min_samples,
            "max_feature_length": 0,
            "needs_reenrolment": matches!(lookup, Lookup::Legacy),
            "phrase_length": 0,
            "detector": null,
            "trained_at": null,
        });
        if let Lookup::Enrolled(snapshot) = &lookup {
            let metadata = &snapshot.metadata;
            body["training_samples"] = metadata.active_samples().into();
            if !metadata.excluded.is_empty() {
                body["excluded_samples"] = metadata.excluded.len().into();
            }
            body["max_feature_length"] = metadata.feature_length.into();
            body["phrase_length"] = metadata.key_sequence.len().into();
            if let Some(model) = &snapshot.model {
                body["has_trained_model"] = true.into();
                body["detector"] = model.params.kind().id().into();
                // Only where the level moves the threshold: not for an isolation-forest model, nor
                // for an old one whose levels could not be learnt again (it answers as it did).
                if model.has_levels() {
                    body["security_level"] = self.config.security.id().into();
                }
                body["trained_at"] = model.trained_at.to_string().into();
            }
        }
        Ok(Response::json(200, body).for_user(&user))
    }

    /// `POST /enrolment-code` (needs the token): a new code for the collection page.
    fn enrolment_code(
        &self,
        request: &Request<'_>,
        now: NaiveDateTime,
    ) -> Result<Response, Response> {
        if self.config.api_token.is_none() {
            return Err(Response::error(
                404,
                "no API token is set (KW_API_TOKEN), so the collection page enrols without a code",
            ));
        }
        self.same_site(request)?;
        self.authorize(request)?;
        // An optional `{"user_id": …}` names the participant (one finishing an enrolment).
        let participant = match serde_json::from_slice::<Value>(request.body) {
            _ if request.body.iter().all(u8::is_ascii_whitespace) => None,
            Ok(Value::Object(body)) => match body.get("user_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => {
                    Some(UserId::parse(id).map_err(|e| bad_request(e.to_string()))?)
                }
                Some(_) => return Err(bad_request("\"user_id\" must be a string".into())),
            },
            _ => {
                return Err(bad_request(
                    "the body must be empty or a JSON object {\"user_id\": …}".into(),
                ));
            }
        };
        let issued = self.codes.issue(now, participant.clone());
        Ok(Response::json(
            200,
            json!({
                "code": issued.code,
                "expires_at": format_time(issued.expires_at),
                "valid_seconds": CODE_LIFETIME.num_seconds(),
                "user_id": participant.as_ref().map(UserId::as_str),
            }),
        ))
    }

    /// With a token configured, the request must carry `Authorization: Bearer <token>`
    /// (compared in constant time).
    fn authorize(&self, request: &Request<'_>) -> Result<(), Response> {
        let Some(token) = &self.config.api_token else {
            return Ok(());
        };
        let presented = request.authorization.and_then(|value| {
            let (scheme, credentials) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credentials.trim())
        });
        match presented {
            Some(given)
                if constant_time_eq::constant_time_eq(given.as_bytes(), token.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(Response::error(
                401,
                format!(
                    "{} needs the API token: send \"Authorization: Bearer <token>\"",
                    path_of(request)
                ),
            )
            .header("WWW-Authenticate", "Bearer")),
        }
    }
}

/// Whether `origin` is the server's own page as the browser reached it (`Host`). Only an
/// address or `localhost` counts: a page on a DNS name could be another site's name rebound
/// to this server's address, and such names are admitted only through `KW_CORS_ORIGINS`.
fn own_page(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host.map(str::trim) else {
        return false;
    };
    let Some(origin_host) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    if !origin_host.eq_ignore_ascii_case(host) {
        return false;
    }
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn path_of<'a>(request: &Request<'a>) -> &'a str {
    routes::path_of(request.target)
}

fn bad_request(message: String) -> Response {
    Response::error(400, message)
}

/// A failed store operation as an answer: 507 when the disk is full, otherwise 500 — a damaged
/// file names the command that repairs it. The body never shows a path; the log does.
/// The answer to a /train whose sample was not stored, and the audit log's outcome. The texts
/// name the settings behind each limit.
fn train_refusal(refusal: &EnrolError) -> (Response, String) {
    let refused = |status: u16, why: &str, message: String| {
        (
            Response::error(status, message),
            format!("refused {status}: {why}"),
        )
    };
    match refusal {
        EnrolError::LowSpace { free, reserve } => refused(
            507,
            "free-space reserve",
            format!(
                "the server is low on disk space ({} MiB free, {} MiB kept free, \
                 KW_MIN_FREE_MB): the sample was not stored",
                free >> 20,
                reserve >> 20
            ),
        ),
        EnrolError::TooManyUsers { user, max } => refused(
            403,
            "user quota",
            format!(
                "the store holds the most users allowed ({max}, KW_MAX_USERS): \
                 user '{user}' cannot enrol"
            ),
        ),
        EnrolError::TooManySamples { user, max } => refused(
            403,
            "sample quota",
            format!(
                "user '{user}' has the most samples allowed ({max}, \
                 KW_MAX_SAMPLES_PER_USER): the sample was not stored"
            ),
        ),
        EnrolError::Duplicate { .. } => refused(400, "duplicate", refusal.to_string()),
        EnrolError::Store(e @ StoreError::PhraseMismatch { .. }) => {
            refused(400, "phrase mismatch", e.to_string())
        }
        EnrolError::Store(e) => {
            let failure = internal(e);
            let outcome = format!("failed {}", failure.status);
            (failure, outcome)
        }
    }
}

fn internal(error: &StoreError) -> Response {
    log::error!("{error}");
    if error.is_disk_full() {
        return Response::error(
            507,
            format!(
                "the server's disk is full: nothing was stored ({})",
                error.public_message()
            ),
        );
    }
    Response::error(500, format!("internal error: {}", error.public_message()))
}

/// The answer to an attempt that was not judged.
fn refused(error: VerifyError) -> Response {
    match error {
        VerifyError::LockedOut(seconds) => {
            Response::error(429, error.to_string()).header("Retry-After", seconds.to_string())
        }
        VerifyError::Busy => Response::error(429, error.to_string()).header("Retry-After", "1"),
        VerifyError::Unavailable(why) => unavailable(why),
        VerifyError::NotEnrolled { legacy, .. } => {
            let mut missing = Response::error(404, NO_MODEL);
            if legacy {
                missing.body["needs_reenrolment"] = true.into();
            }
            missing
        }
        VerifyError::Store(e) => internal(&e),
        VerifyError::UnusableModel { .. } => Response::error(500, error.to_string()),
    }
}

/// A 503: attempts are refused while their outcome cannot be saved.
fn unavailable(why: String) -> Response {
    Response::error(
        503,
        format!("authentication is unavailable: {why}; try again later"),
    )
    .header("Retry-After", "5")
}
