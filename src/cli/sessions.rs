//! `import`, `export` and `cmu-sessions`: moving users in and out of a store as session files.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Local;
use clap::Args;

use keystroke_core::detect::{DEFAULT_DETECTOR, DetectorKind};
use keystroke_core::eval::{CMU, load_csv};
use keystroke_core::session::SessionFile;
use keystroke_core::store::{Store, UserId};

/// The model store a command works on.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Model store folder
    #[arg(
        long,
        value_name = "DIR",
        env = "KW_MODELS_DIR",
        default_value = "user_models"
    )]
    pub models: PathBuf,
}

impl StoreArgs {
    /// Opens the store.
    pub(super) fn open(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.models)?)
    }
}

/// Arguments of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Session files to import
    #[arg(required = true, value_name = "SESSION.json")]
    pub files: Vec<PathBuf>,
    /// The store to import into.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Store the samples under this user instead of the file's
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Train each imported user's model afterwards with this detector
    #[arg(long, value_name = "DETECTOR")]
    pub train: Option<DetectorKind>,
}

/// Arguments of `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The user to export
    pub user: String,
    /// The store to export from.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output file (default: <user>.json)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Arguments of `train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The user to train
    pub user: String,
    /// The store holding the user.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Detector (by default the product's, which `serve` and the workbench fit too)
    #[arg(long, value_name = "NAME", default_value_t = DEFAULT_DETECTOR)]
    pub detector: DetectorKind,
}

/// Arguments of `cmu-sessions`.
#[derive(Debug, Clone, Args)]
pub struct CmuSessionsArgs {
    /// The benchmark CSV (default: the bundled copy)
    #[arg(long, value_name = "PATH")]
    pub cmu: Option<PathBuf>,
    /// Subjects to convert
    #[arg(long, value_delimiter = ',', default_value = "s002,s003,s004")]
    pub subjects: Vec<String>,
    /// Repetitions per subject (the first ones)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub reps: usize,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "sample_sessions")]
    pub out: PathBuf,
}

/// Imports session files into a store.
pub fn import(args: &ImportArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let store = args.store.open()?;
    for path in &args.files {
        let (file, samples) = SessionFile::read(path)?;
        let id = args.user.as_deref().unwrap_or(&file.user_id);
        let user = UserId::parse(id).with_context(|| format!("{}: user {id:?}", path.display()))?;
        let now = Local::now().naive_local();
        let metadata = store.with_user(&user, |w| {
            let mut last = None;
            for sample in &samples {
                last = Some(w.add_sample(sample, None, now)?);
            }
            if let Some(kind) = args.train {
                last = Some(w.train(&kind.default_params(), now)?);
            }
            Ok::<_, keystroke_core::store::StoreError>(last)
        })?;
        let total = metadata.map_or(0, |m| m.active_samples());
        writeln!(
            out,
            "{user}: {} samples imported from {} ({total} stored){}",
            samples.len(),
            path.display(),
            args.train
                .map_or(String::new(), |k| format!(", {} trained", k.id()))
        )?;
    }
    Ok(())
}

/// Trains a user's model on all their stored samples.
pub fn train(args: &TrainArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let store = args.store.open()?;
    let user = UserId::parse(&args.user)?;
    let params = args.detector.default_params();
    let metadata = store.with_user(&user, |w| w.train(&params, Local::now().naive_local()))?;
    writeln!(
        out,
        "{user}: {} trained on {} samples",
        args.detector.id(),
        metadata.active_samples()
    )?;
    Ok(())
}

/// Writes a user's stored samples as a session file.
pub fn export(args: &ExportArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let store = args.store.open()?;
    let user = UserId::parse(&args.user)?;
    let metadata = store
        .metadata(&user)?
        .with_context(|| format!("{user} has no samples in {}", args.store.models.display()))?;
    // The samples in use: an excluded one was a mistake.
    let samples = store.active_samples(&user, &metadata)?;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{user}.json")));
    let file = SessionFile::new(user.as_str(), samples.into_iter().map(|s| s.keystroke_data));
    file.write(&path)?;
    let left_out = match metadata.excluded.len() {
        0 => String::new(),
        n => format!(" ({n} excluded left out)"),
    };
    writeln!(
        out,
        "{user}: {} samples written to {}{left_out}",
        file.samples.len(),
        path.display()
    )?;
    Ok(())
}

/// Converts CMU benchmark subjects into session files.
pub fn cmu_sessions(args: &CmuSessionsArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let data = match &args.cmu {
        Some(path) => load_csv(path)?,
        None => CMU.load()?,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for subject in &args.subjects {
        let session =
            SessionFile::from_cmu(&data, subject, 0..args.reps).map_err(anyhow::Error::msg)?;
        let path = args.out.join(format!("{subject}.json"));
        session.write(&path)?;
        writeln!(
            out,
            "{subject}: {} samples written to {}",
            args.reps,
            path.display()
        )?;
    }
    Ok(())
}
