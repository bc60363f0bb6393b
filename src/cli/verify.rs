//! `verify`: judges the samples of a session file as login attempts by a stored user, through
//! the core's one verification path (`keystroke_core::auth`) — the verdicts and scores the
//! server's /predict and the workbench's live test give for the same model and attempt.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDateTime;
use clap::Args;
use serde_json::json;

use keystroke_core::auth::{
    DEFAULT_MODEL_CACHE_BYTES, ModelCache, Throttle, Verifier, VerifyConfig, VerifyError,
};
use keystroke_core::capture::Sample;
use keystroke_core::detect::SecurityLevel;
use keystroke_core::session::SessionFile;
use keystroke_core::store::UserId;

use super::sessions::StoreArgs;

/// Arguments of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Session file whose samples are the attempts, in order
    #[arg(value_name = "SESSION.json")]
    pub file: PathBuf,
    /// The claimed user (default: the file's)
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// The store holding the user.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Judge without lockouts: failures are neither counted nor stored (a demo or a study);
    /// by default they count towards the user's lockout, as on the server
    #[arg(long)]
    pub no_throttle: bool,
    /// Print one JSON object per attempt: `attempt`, `authenticated`, `confidence_score` and
    /// `reason` as /predict gives them, or `error` when it was not judged
    #[arg(long)]
    pub json: bool,
    /// Which of the model's thresholds judges: convenient, balanced or strict, as `serve
    /// --security`
    #[arg(long, value_name = "LEVEL", env = "KW_SECURITY", default_value_t = SecurityLevel::default())]
    pub security: SecurityLevel,
}

/// Judges each sample of the file. An attempt refused before judging (locked out, too many at
/// once) is reported and the next one tried; when the user has no model or their files cannot
/// be read, the command stops with an error. Failure counts are saved whatever happens.
pub fn run(args: &VerifyArgs, now: NaiveDateTime, out: &mut dyn Write) -> anyhow::Result<()> {
    let (file, samples) = SessionFile::read(&args.file)?;
    let id = args.user.as_deref().unwrap_or(&file.user_id);
    let user = UserId::parse(id).with_context(|| format!("user {id:?}"))?;
    // Opening would create a mistyped folder; there is nothing to verify against in it.
    anyhow::ensure!(
        args.store.models.is_dir(),
        "no model store at {}",
        args.store.models.display()
    );
    let store = Arc::new(args.store.open()?);
    let throttle = if args.no_throttle {
        Throttle {
            max_failures: 0,
            ..Throttle::default()
        }
    } else {
        Throttle::default()
    };
    let verifier = Verifier::new(
        store,
        VerifyConfig {
            throttle,
            security: args.security,
            ..VerifyConfig::default()
        },
        ModelCache::new(DEFAULT_MODEL_CACHE_BYTES),
    );
    let judged = judge(&verifier, &user, &samples, args.json, now, out);
    let flushed = verifier
        .flush()
        .context("cannot save the failed-attempt counts");
    judged.and(flushed.map(drop))
}

/// Writes a line per attempt; stops at an attempt that cannot be judged for want of a model or
/// readable files.
fn judge(
    verifier: &Verifier,
    user: &UserId,
    samples: &[Sample],
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for (i, sample) in samples.iter().enumerate() {
        let number = i + 1;
        let result = verifier.verify(user, sample, now);
        if json {
            let line = match &result {
                Ok(verdict) => json!({
                    "attempt": number,
                    "authenticated": verdict.accepted(),
                    "confidence_score": verdict.score,
                    "reason": verdict.rejection.map(|r| r.reason()),
                }),
                Err(error) => json!({"attempt": number, "error": error.to_string()}),
            };
            writeln!(out, "{line}")?;
        } else {
            match &result {
                Ok(verdict) => writeln!(
                    out,
                    "attempt {number}: {} (score {:.4}){}",
                    if verdict.accepted() {
                        "GENUINE"
                    } else {
                        "IMPOSTER"
                    },
                    verdict.score,
                    verdict
                        .rejection
                        .map(|r| format!(": {}", r.reason()))
                        .unwrap_or_default()
                )?,
                Err(error) => writeln!(out, "attempt {number}: not judged: {error}")?,
            }
        }
        if let Err(
            error @ (VerifyError::NotEnrolled { .. }
            | VerifyError::Store(_)
            | VerifyError::UnusableModel { .. }),
        ) = result
        {
            return Err(anyhow::Error::new(error).context(format!("attempt {number}")));
        }
    }
    Ok(())
}
