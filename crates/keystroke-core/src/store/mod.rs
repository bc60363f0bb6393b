//! The model store (`user_models/`): the single owner of the on-disk format.
//!
//! Per user: `<id>_features.npy` (float64 [samples, features], loadable by NumPy),
//! `<id>_samples.jsonl` (raw events, one sample a line), `<id>_metadata.json`, and
//! `<id>.model.json` (the fitted detector). Writes go through [`Store::with_user`], one writer
//! per user at a time — in this process and, through OS advisory locks ([`lock`]), in every
//! process sharing the folder; every file is replaced atomically, and the metadata, written last,
//! is the commit point: a crash at any moment leaves the previous committed state readable.

pub(crate) mod atomic;
mod check;
mod commit;
mod error;
mod lock;
mod npy;
pub mod parse;
mod records;
mod space;
mod stamp;
mod sync_pool;
mod throttle_log;
mod time;
mod user_id;
mod versioned;

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDateTime;
use ndarray::{Array2, Axis, s};
use serde::{Deserialize, Serialize};

use crate::capture::{Capture, KeyEvent, Participant, Sample};
use crate::detect::{DetectorParams, Template};
use crate::features::{Features, fingerprint};
pub use check::{CheckReport, Finding, QUARANTINE_DIR, Severity};
pub use commit::{Committer, DEFAULT_MAX_WAIT};
pub use error::StoreError;
use parse::corrupt;
pub use records::{
    METADATA_FORMAT, MODEL_FORMAT, Metadata, ModelFile, THROTTLE_FORMAT, ThrottleState,
};
pub use space::Unwritable;
pub use stamp::CommitStamp;
pub use throttle_log::{COMPACT_BYTES, THROTTLE_LOG};
pub use time::{LocalTime, format_time};
pub use user_id::{MAX_USER_ID_CHARS, UserId, UserIdError};
use versioned::FileFormat;

/// One line of `<id>_samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSample {
    /// When it was stored.
    pub added_at: LocalTime,
    /// Its events, as received.
    pub keystroke_data: Vec<KeyEvent>,
    /// How it was captured ([`crate::capture::source`]): `global` (rdev, ~1 ms), `window`
    /// (the window's own events, frame-quantised: lower precision), `browser` (the collection
    /// page). Absent for samples received over the API that said nothing of their source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    /// The browser that captured it (family and major version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// The capturing clock's measured resolution, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_resolution_ms: Option<f64>,
    /// Some of its key identities came from input events (a soft keyboard): lower precision.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub low_precision: bool,
    /// The enrolment session it was typed in ([`Participant`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The device or keyboard it was typed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The operator's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl StoredSample {
    /// Its source: the capture it names, else [`crate::capture::source::API`].
    pub fn source(&self) -> &str {
        self.capture
            .as_deref()
            .unwrap_or(crate::capture::source::API)
    }

    /// How it was captured, if it says.
    pub fn capture(&self) -> Option<Capture> {
        Some(Capture {
            source: self.capture.clone()?,
            browser: self.browser.clone(),
            timer_resolution_ms: self.timer_resolution_ms,
            low_precision: self.low_precision,
            participant: self.participant(),
        })
    }

    /// The enrolment session it was typed in, as the operator recorded it.
    pub fn participant(&self) -> Participant {
        Participant {
            session: self.session.clone(),
            device: self.device.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// A user's committed metadata and the model trained with it, read together.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The metadata.
    pub metadata: Metadata,
    /// The model the metadata records, if it is there and matches.
    pub model: Option<ModelFile>,
    /// Fingerprints of the stored feature vectors (to recognise a replayed sample).
    pub fingerprints: HashSet<u64>,
}

impl Snapshot {
    /// The model is the one the metadata records (or none is recorded).
    fn is_consistent(&self) -> bool {
        match (&self.metadata.trained_at, &self.model) {
            (None, _) => true,
            (Some(at), Some(model)) => model.trained_at == *at,
            (Some(_), None) => false,
        }
    }
}

/// The files of one user.
#[derive(Debug, Clone)]
pub struct UserPaths {
    /// `<id>_features.npy`.
    pub features: PathBuf,
    /// `<id>_samples.jsonl`.
    pub samples: PathBuf,
    /// `<id>_metadata.json`.
    pub metadata: PathBuf,
    /// `<id>.model.json`.
    pub model: PathBuf,
    /// `<id>.joblib`: the old backend's pickled model, never opened.
    pub legacy_model: PathBuf,
    /// `<id>_throttle.json`: failed-authentication counters.
    pub throttle: PathBuf,
    /// `<id>_updates.npy`: accepted attempts kept by template update (float64, like the
    /// features), oldest first.
    pub updates: PathBuf,
}

impl UserPaths {
    /// Every file, the metadata (the commit point) first, the old backend's model last.
    pub fn all(&self) -> [&PathBuf; 7] {
        [
            &self.metadata,
            &self.model,
            &self.features,
            &self.samples,
            &self.throttle,
            &self.updates,
            &self.legacy_model,
        ]
    }
}

/// Folder (inside the store) where an old-backend user's files are moved when they enrol again.
pub const LEGACY_ARCHIVE_DIR: &str = "legacy";

/// A model store folder. Shared between threads (the GUI and the embedded server) behind an
/// `Arc`, and between processes on the same folder; writes to one user are serialised by
/// [`Store::with_user`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    users: Mutex<HashMap<UserId, Arc<UserSlot>>>,
    committer: Committer,
    throttle_log: throttle_log::ThrottleLog,
}

/// In-process state of one user: the writer lock (taken before the user's cross-process lock,
/// which serialises processes, not threads) and a count of finished writes.
#[derive(Debug, Default)]
struct UserSlot {
    writer: Mutex<()>,
    generation: AtomicU64,
}

impl Store {
    /// Opens (creating if needed) a store folder and removes temporary files a crash left:
    /// those whose user's lock is free, never a live writer's in another process.
    /// New samples are committed in groups ([`Committer::batching`] with [`DEFAULT_MAX_WAIT`]).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        Store::open_with(dir, Committer::batching(DEFAULT_MAX_WAIT))
    }

    /// [`Store::open`] with another committer (e.g. [`Committer::immediate`], to compare).
    pub fn open_with(dir: impl Into<PathBuf>, committer: Committer) -> Result<Store, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        let store = Store {
            throttle_log: throttle_log::ThrottleLog::new(&dir),
            dir,
            users: Mutex::new(HashMap::new()),
            committer,
        };
        store.remove_stale_temps()?;
        Ok(store)
    }

    /// Removes the temporary files of users nobody is writing; returns their names. A temporary
    /// file is only made by a writer holding its user's lock, so a free lock means its owner died.
    fn remove_stale_temps(&self) -> Result<Vec<String>, StoreError> {
        let dir = &self.dir;
        let mut removed = Vec::new();
        for name in atomic::temp_names(dir).map_err(io_error("list", dir))? {
            let target = atomic::temp_target(&name);
            let lock_path = if target == Some(THROTTLE_LOG) {
                self.throttle_log.lock_path().to_path_buf()
            } else if let Some(user) = target.and_then(owner_of_file) {
                lock::user_lock_path(dir, user.as_str())
            } else {
                continue; // not ours: `store check` reports it
            };
            let Some(_free) = lock::try_user(&lock_path).map_err(io_error("lock", &lock_path))?
            else {
                continue; // its writer is alive
            };
            atomic::remove_temp(dir, &name).map_err(io_error("remove", &dir.join(&name)))?;
            removed.push(name);
        }
        Ok(removed)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committer the store's writers share fsyncs through; other writers of the folder
    /// (the audit log, throttle state) may use it too.
    pub fn committer(&self) -> &Committer {
        &self.committer
    }

    /// The files of `user`.
    pub fn paths(&self, user: &UserId) -> UserPaths {
        let id = user.as_str();
        UserPaths {
            features: self.dir.join(format!("{id}_features.npy")),
            samples: self.dir.join(format!("{id}_samples.jsonl")),
            metadata: self.dir.join(format!("{id}_metadata.json")),
            model: self.dir.join(format!("{id}.model.json")),
            legacy_model: self.dir.join(format!("{id}.joblib")),
            throttle: self.dir.join(format!("{id}_throttle.json")),
            updates: self.dir.join(format!("{id}_updates.npy")),
        }
    }

    /// Users with metadata (or an old backend's `.joblib`) in the store, sorted.
    pub fn users(&self) -> Result<Vec<UserId>, StoreError> {
        let io_error = |source| StoreError::Io {
            action: "list",
            path: self.dir.clone(),
            source,
        };
        let mut users = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_error)? {
            let name = entry.map_err(io_error)?.file_name();
            let name = name.to_str().unwrap_or_default();
            if let Some(id) = name
                .strip_suffix("_metadata.json")
                .or_else(|| name.strip_suffix(".joblib"))
                && let Ok(user) = UserId::parse(id)
            {
                users.push(user);
            }
        }
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// Whether the store can take writes now: `Err` says why not (its file system is
    /// read-only or has no space left). A cheap check that writes nothing.
    pub fn writable(&self) -> Result<(), Unwritable> {
        space::writable(&self.dir)
    }

    /// Bytes free for this process on the store's file system (`None` where the platform cannot
    /// tell).
    pub fn available_bytes(&self) -> Result<Option<u64>, StoreError> {
        space::available_bytes(&self.dir).map_err(io_error("measure free space on", &self.dir))
    }

    /// Users enrolled by the old backend, who must enrol again.
    pub fn legacy_users(&self) -> Result<Vec<UserId>, StoreError> {
        let mut legacy = Vec::new();
        for user in self.users()? {
            if let Err(StoreError::Legacy { .. }) = self.metadata(&user) {
                legacy.push(user);
            }
        }
        Ok(legacy)
    }

    /// How many writes to `user` this process has finished (part of [`Store::commit_stamp`],
    /// which also sees other processes' commits).
    pub fn generation(&self, user: &UserId) -> u64 {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users
            .get(user)
            .map_or(0, |slot| slot.generation.load(Ordering::Acquire))
    }

    /// The user's committed metadata; `None` if the user has none. A user of the old backend
    /// (its metadata, or its `.joblib` alone) is [`StoreError::Legacy`].
    pub fn metadata(&self, user: &UserId) -> Result<Option<Metadata>, StoreError> {
        let paths = self.paths(user);
        let metadata = read_if_exists(&paths.metadata)?
            .map(|bytes| parse::metadata(user, &paths.metadata, &bytes))
            .transpose()?;
        if metadata.is_none() && paths.legacy_model.exists() {
            return Err(StoreError::Legacy {
                user: user.clone(),
                path: paths.legacy_model,
            });
        }
        Ok(metadata)
    }

    /// The committed feature rows ([samples, feature_length], ms).
    pub fn features(&self, user: &UserId, metadata: &Metadata) -> Result<Array2<f64>, StoreError> {
        let path = self.paths(user).features;
        let all = npy::read(&path).map_err(|message| corrupt(user, &path, message))?;
        if all.ncols() != metadata.feature_length || all.nrows() < metadata.samples {
            return Err(corrupt(
                user,
                &path,
                format!(
                    "shape {:?}, the metadata records {} samples of {} features",
                    all.dim(),
                    metadata.samples,
                    metadata.feature_length
                ),
            ));
        }
        Ok(all.slice_move(s![..metadata.samples, ..]))
    }

    /// The committed rows in use: [`Store::features`] less the excluded samples.
    pub fn active_features(
        &self,
        user: &UserId,
        metadata: &Metadata,
    ) -> Result<Array2<f64>, StoreError> {
        let all = self.features(user, metadata)?;
        Ok(match metadata.excluded.is_empty() {
            true => all,
            false => all.select(Axis(0), &metadata.active_indices()),
        })
    }

    /// The accepted attempts kept by template update (none when there is no updates file).
    pub fn updates(&self, user: &UserId, metadata: &Metadata) -> Result<Array2<f64>, StoreError> {
        let path = self.paths(user).updates;
        if !path.exists() {
            return Ok(Array2::zeros((0, metadata.feature_length)));
        }
        let rows = npy::read(&path).map_err(|message| corrupt(user, &path, message))?;
        if rows.ncols() != metadata.feature_length {
            return Err(corrupt(
                user,
                &path,
                format!(
                    "{} features per row, the metadata records {}",
                    rows.ncols(),
                    metadata.feature_length
                ),
            ));
        }
        Ok(rows)
    }

    /// The committed samples' raw events.
    pub fn samples(
        &self,
        user: &UserId,
        metadata: &Metadata,
    ) -> Result<Vec<StoredSample>, StoreError> {
        let path = self.paths(user).samples;
        let bytes = read_if_exists(&path)?.unwrap_or_default();
        let committed = usize::try_from(metadata.samples_file_bytes).unwrap_or(usize::MAX);
        let Some(text) = bytes.get(..committed) else {
            return Err(corrupt(
                user,
                &path,
                format!("{} bytes, the metadata records {committed}", bytes.len()),
            ));
        };
        let samples = parse::samples(user, &path, text)?;
        if samples.len() != metadata.samples {
            return Err(corrupt(
                user,
                &path,
                format!(
                    "{} samples, the metadata records {}",
                    samples.len(),
                    metadata.samples
                ),
            ));
        }
        Ok(samples)
    }

    /// The committed samples in use: [`Store::samples`] less the excluded ones (what an export
    /// writes).
    pub fn active_samples(
        &self,
        user: &UserId,
        metadata: &Metadata,
    ) -> Result<Vec<StoredSample>, StoreError> {
        Ok(self
            .samples(user, metadata)?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !metadata.is_excluded(*i))
            .map(|(_, sample)| sample)
            .collect())
    }

    /// The user's model in use: the metadata records one, and the file was trained on
    /// committed samples of the enrolled phrase (the one rule every reader and `store check`
    /// go by).
    pub fn model(
        &self,
        user: &UserId,
        metadata: &Metadata,
    ) -> Result<Option<ModelFile>, StoreError> {
        let path = self.paths(user).model;
        if metadata.trained_at.is_none() {
            // No model in use: a file there is a dropped model's, or an interrupted write's.
            return Ok(None);
        }
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        let model = parse::model(user, &path, &bytes)?;
        // A model trained on more samples than the metadata has in use comes from an
        // interrupted write (a new sample, or a restored one, not yet committed): it is not
        // used.
        let current = model.trained_on_samples <= metadata.active_samples()
            && model.key_sequence == metadata.key_sequence;
        Ok(current.then_some(model))
    }

    /// The user's failed-authentication state (all zero when none is stored): their last line
    /// in the throttle log, else an older build's `<id>_throttle.json`.
    pub fn throttle(&self, user: &UserId) -> Result<ThrottleState, StoreError> {
        if let Some(state) = self.throttle_log.state(user)? {
            return Ok(state);
        }
        self.legacy_throttle(user)
    }

    /// The user's failed-authentication state as last read from the throttle log by anything
    /// in this process (no file access); `None` when it had no line for them.
    pub fn known_throttle(&self, user: &UserId) -> Option<ThrottleState> {
        self.throttle_log.known_state(user)
    }

    /// `Err` while the throttle log cannot be read (then no attempt is scored).
    pub fn throttle_log_readable(&self) -> Result<(), StoreError> {
        self.throttle_log.readable()
    }

    /// An older build's `<id>_throttle.json` (all zero when there is none).
    fn legacy_throttle(&self, user: &UserId) -> Result<ThrottleState, StoreError> {
        let path = self.paths(user).throttle;
        match read_if_exists(&path)? {
            Some(bytes) => parse::throttle(user, &path, &bytes),
            None => Ok(ThrottleState::default()),
        }
    }

    /// Stores users' failed-authentication states, durably, in one append to the throttle
    /// log (one fsync for all of them). Of two calls for one user, the later one wins: the
    /// caller orders them. `Err` while the log is damaged, even with no states.
    pub fn save_throttles(&self, states: &[(UserId, ThrottleState)]) -> Result<(), StoreError> {
        self.throttle_log
            .append(&self.dir, states, |user| self.paths(user).throttle)
    }

    /// The committed metadata and the model that goes with it (`None` if the user has no data),
    /// read consistently while another thread may be writing: a writer stores the model before
    /// committing the metadata, so a reader can meet the new model beside the old metadata. It
    /// then waits for that writer and reads again.
    pub fn snapshot(&self, user: &UserId) -> Result<Option<Snapshot>, StoreError> {
        let read = || -> Result<Option<Snapshot>, StoreError> {
            let Some(metadata) = self.metadata(user)? else {
                return Ok(None);
            };
            let model = self.model(user, &metadata)?;
            Ok(Some(Snapshot {
                metadata,
                model,
                fingerprints: HashSet::new(),
            }))
        };
        let mut snapshot = read()?;
        if !snapshot.as_ref().is_none_or(Snapshot::is_consistent) {
            let slot = self.slot(user);
            let _writer_done = slot.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let path = lock::user_lock_path(&self.dir, user.as_str());
            let _other_process_done = lock::user(&path).map_err(io_error("lock", &path))?;
            // Still inconsistent now: a write was interrupted after storing its model, which
            // is used only if trained on samples the metadata has in use ([`Store::model`]).
            snapshot = read()?;
        }
        if let Some(snapshot) = &mut snapshot {
            let features = self.features(user, &snapshot.metadata)?;
            snapshot.fingerprints = features
                .rows()
                .into_iter()
                .map(|row| fingerprint(&row.to_vec()))
                .collect();
            if let Some(model) = &mut snapshot.model
                && model.levels.is_none()
                && model.params.kind().has_levels()
            {
                self.complete_levels(user, &snapshot.metadata, model, &features)?;
            }
        }
        Ok(snapshot)
    }

    /// [`ModelFile::complete_levels`] for a model read without levels, from the rows it was
    /// trained on (`features`: all the user's samples). A model whose levels cannot be learnt
    /// again keeps its one threshold, with a warning.
    fn complete_levels(
        &self,
        user: &UserId,
        metadata: &Metadata,
        model: &mut ModelFile,
        features: &Array2<f64>,
    ) -> Result<(), StoreError> {
        let active = features.select(Axis(0), &metadata.active_indices());
        let updates = self.updates(user, metadata)?;
        let learnt = if (active.nrows(), updates.nrows())
            != (model.trained_on_samples, model.trained_on_updates)
        {
            Err("it was trained on other rows than those stored".to_string())
        } else {
            model.complete_levels(training_rows(&active, &updates).view())
        };
        if let Err(why) = learnt {
            log::warn!(
                "the model of {user} predates security levels and they cannot be learnt again \
                 ({why}): it is judged at its one threshold at every level until retrained"
            );
        }
        Ok(())
    }

    fn slot(&self, user: &UserId) -> Arc<UserSlot> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(users.entry(user.clone()).or_default())
    }

    /// Runs `f` as the only writer of `user`'s files, in every process on this folder. Fails
    /// (without running `f`) only if the locks cannot be taken.
    pub fn with_user<T, E: From<StoreError>>(
        &self,
        user: &UserId,
        f: impl FnOnce(&mut UserWriter<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let slot = self.slot(user);
        // A panic in another writer leaves the files consistent (every write is atomic).
        let _guard = slot.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let _store = lock::store(&self.dir, lock::Mode::Shared)
            .map_err(io_error("lock the store folder", &self.dir))?;
        let path = lock::user_lock_path(&self.dir, user.as_str());
        let user_lock = lock::user(&path).map_err(io_error("lock", &path))?;
        let result = f(&mut UserWriter {
            store: self,
            user,
            lock: &user_lock,
        });
        slot.generation.fetch_add(1, Ordering::AcqRel);
        result
    }
}

/// The end of each per-user file's name, and what the file holds (for messages that must not
/// show a path).
const USER_FILES: [(&str, &str); 7] = [
    ("_features.npy", "features"),
    ("_samples.jsonl", "samples"),
    ("_metadata.json", "metadata"),
    (".model.json", "model"),
    ("_throttle.json", "throttle"),
    ("_updates.npy", "template updates"),
    (".joblib", "old backend's model"),
];

/// The user a store file (or a deletion's `delete-<id>` folder) named `name` belongs to.
fn owner_of_file(name: &str) -> Option<UserId> {
    let id = match name.strip_prefix(DELETE_PREFIX) {
        Some(id) => id,
        None => USER_FILES
            .iter()
            .find_map(|(suffix, _)| name.strip_suffix(suffix))?,
    };
    UserId::parse(id).ok()
}

/// What the store file at `path` holds: `samples`, `model`, … (`store` for other files).
fn file_kind(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name == THROTTLE_LOG {
        return "throttle log";
    }
    USER_FILES
        .iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map_or("store", |(_, kind)| kind)
}

/// The files a user's first sample wrote, removed on drop unless it committed (the writer
/// holds the user's lock, and a user without metadata has no committed file).
#[must_use = "dropped before it commits, the first sample's files are removed"]
struct FirstSample<'a> {
    files: Option<[&'a PathBuf; 3]>,
}

impl Drop for FirstSample<'_> {
    fn drop(&mut self) {
        for file in self.files.into_iter().flatten() {
            if let Err(e) = fs::remove_file(file)
                && e.kind() != io::ErrorKind::NotFound
            {
                log::warn!(
                    "cannot remove {} of a failed first sample: {e}",
                    file.display()
                );
            }
        }
    }
}

/// Writes `bytes` to `path` atomically (a temporary file beside it, fsync, rename): a crash or
/// a full disk leaves the old file or the whole new one. For exports outside the store.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic::replace(path, |out| out.write_all(bytes))
}

/// Prefix of the temporary folder a user's deletion moves their files into.
const DELETE_PREFIX: &str = "delete-";

/// Writes one user's files; only exists inside [`Store::with_user`].
pub struct UserWriter<'a> {
    store: &'a Store,
    user: &'a UserId,
    lock: &'a lock::LockGuard,
}

impl UserWriter<'_> {
    /// The user's committed metadata.
    pub fn metadata(&self) -> Result<Option<Metadata>, StoreError> {
        self.store.metadata(self.user)
    }

    /// Stores a sample (features and raw events) and, with `train`, fits a model on all samples.
    /// The first sample fixes the user's phrase; a sample of another phrase is refused. Nothing
    /// is written unless everything (training included) succeeds. A user of the old backend
    /// enrols afresh: their old files are first moved to `legacy/<id>/`, never read.
    pub fn add_sample(
        &mut self,
        sample: &Sample,
        train: Option<&DetectorParams>,
        now: NaiveDateTime,
    ) -> Result<Metadata, StoreError> {
        self.add_captured_sample(sample, None, train, now)
    }

    /// [`UserWriter::add_sample`] recording how the sample was captured beside its events.
    pub fn add_captured_sample(
        &mut self,
        sample: &Sample,
        capture: Option<&Capture>,
        train: Option<&DetectorParams>,
        now: NaiveDateTime,
    ) -> Result<Metadata, StoreError> {
        let (previous, legacy) = match self.metadata() {
            Ok(previous) => (previous, false),
            Err(StoreError::Legacy { .. }) => (None, true),
            Err(e) => return Err(e),
        };
        let features = Features::of(sample);
        let (mut matrix, mut metadata) = match previous {
            Some(m) => {
                if m.key_sequence != features.key_sequence {
                    return Err(StoreError::PhraseMismatch {
                        enrolled: m.key_sequence.clone(),
                        typed: features.key_sequence,
                    });
                }
                (self.store.features(self.user, &m)?, m)
            }
            None => (
                Array2::zeros((0, features.values_ms.len())),
                Metadata {
                    user_id: self.user.clone(),
                    samples: 0,
                    feature_length: features.values_ms.len(),
                    key_sequence: features.key_sequence.clone(),
                    detector: None,
                    params: None,
                    trained_at: None,
                    created_at: now.into(),
                    updated_at: now.into(),
                    samples_file_bytes: 0,
                    excluded: Vec::new(),
                    participant_records: false,
                },
            ),
        };
        matrix
            .push(Axis(0), ndarray::ArrayView1::from(&features.values_ms))
            .expect("the row has the enrolled feature length");
        let updates = self.store.updates(self.user, &metadata)?;
        let model = train
            .map(|params| {
                let mut active = metadata.active_indices();
                active.push(metadata.samples);
                let rows = matrix.select(Axis(0), &active);
                self.fit(params, &rows, &updates, &metadata.key_sequence, now)
            })
            .transpose()?;

        let paths = self.store.paths(self.user);
        if legacy {
            self.archive_legacy()?;
        }
        // A first sample that fails before its commit point leaves no file behind.
        let mut uncommitted = FirstSample {
            files: (metadata.samples == 0).then_some([
                &paths.samples,
                &paths.features,
                &paths.model,
            ]),
        };
        let line = StoredSample {
            added_at: now.into(),
            keystroke_data: sample.events().to_vec(),
            capture: capture.map(|c| c.source.clone()),
            browser: capture.and_then(|c| c.browser.clone()),
            timer_resolution_ms: capture.and_then(|c| c.timer_resolution_ms),
            low_precision: capture.is_some_and(|c| c.low_precision),
            session: capture.and_then(|c| c.participant.session.clone()),
            device: capture.and_then(|c| c.participant.device.clone()),
            notes: capture.and_then(|c| c.participant.notes.clone()),
        };
        metadata.participant_records |= line.participant() != Participant::default();
        let (length, samples) = append_line(&paths.samples, metadata.samples_file_bytes, &line)?;
        metadata.samples_file_bytes = length;
        let features = stage(&paths.features, |w| npy::write(w, matrix.view()))?;
        metadata.samples += 1;
        metadata.updated_at = now.into();
        let model = model
            .map(|model| {
                note_model(&mut metadata, &model);
                stage_record(&paths.model, MODEL_FORMAT, &model)
            })
            .transpose()?;
        let commit = stage_record(&paths.metadata, metadata.format(), &metadata)?;
        // The new data durable, then the data files in place, then the commit point.
        let mut handles = vec![samples];
        for staged in [Some(&features), model.as_ref(), Some(&commit)]
            .into_iter()
            .flatten()
        {
            handles.push(
                staged
                    .handle()
                    .map_err(io_error("reopen", &paths.metadata))?,
            );
        }
        let dir = &self.store.dir;
        let sync = |files, dirs| {
            self.store
                .committer
                .sync(files, dirs)
                .map_err(io_error("make durable the files of", dir))
        };
        // A new samples file's folder entry is made durable with the renames below.
        sync(handles, Vec::new())?;
        features
            .install()
            .map_err(io_error("replace", &paths.features))?;
        if let Some(model) = model {
            model.install().map_err(io_error("replace", &paths.model))?;
        }
        sync(Vec::new(), vec![dir.clone()])?;
        commit
            .install()
            .map_err(io_error("replace", &paths.metadata))?;
        uncommitted.files = None;
        sync(Vec::new(), vec![dir.clone()])?;
        Ok(metadata)
    }

    /// Fits a model on all the user's committed samples (those in use) and stores it.
    pub fn train(
        &mut self,
        params: &DetectorParams,
        now: NaiveDateTime,
    ) -> Result<Metadata, StoreError> {
        let mut metadata = self
            .metadata()?
            .ok_or_else(|| StoreError::NoSamples(self.user.clone()))?;
        self.retrain(&mut metadata, params, now)?;
        Ok(metadata)
    }

    /// Fits `params` on the samples `metadata` has in use (and the template's updates), stores
    /// the model, then commits `metadata` recording it.
    fn retrain(
        &mut self,
        metadata: &mut Metadata,
        params: &DetectorParams,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let rows = self.store.active_features(self.user, metadata)?;
        let updates = self.store.updates(self.user, metadata)?;
        let model = self.fit(params, &rows, &updates, &metadata.key_sequence, now)?;
        self.write_model(metadata, &model)?;
        self.commit(metadata)
    }

    /// Excludes committed sample `index` (0-based) from the user's samples in use, or with
    /// `excluded: false` restores it; the sample itself stays in the files, so either can be
    /// undone. The model never keeps an excluded sample: with at least `min_samples` in use it
    /// is retrained with the user's detector (the one recorded in the metadata, else `train`'s),
    /// otherwise it is dropped — the detector stays recorded, so a restoration retrains it.
    /// Returns the metadata and whether anything changed (nothing does when the sample is
    /// already so).
    pub fn set_excluded(
        &mut self,
        index: usize,
        excluded: bool,
        train: Option<&DetectorParams>,
        min_samples: usize,
        now: NaiveDateTime,
    ) -> Result<(Metadata, bool), StoreError> {
        let mut metadata = self
            .metadata()?
            .ok_or_else(|| StoreError::NoSamples(self.user.clone()))?;
        if index >= metadata.samples {
            return Err(StoreError::NoSuchSample {
                user: self.user.clone(),
                number: index.saturating_add(1),
                samples: metadata.samples,
            });
        }
        match (metadata.excluded.binary_search(&index), excluded) {
            (Err(at), true) => metadata.excluded.insert(at, index),
            (Ok(at), false) => {
                metadata.excluded.remove(at);
            }
            _ => return Ok((metadata, false)),
        }
        metadata.updated_at = now.into();
        let params = metadata.params.clone().or_else(|| train.cloned());
        match params.filter(|_| metadata.active_samples() >= min_samples.max(1)) {
            Some(params) => self.retrain(&mut metadata, &params, now)?,
            None => {
                // The metadata first (it then records no model), then the model file.
                metadata.trained_at = None;
                self.commit(&metadata)?;
                let path = self.store.paths(self.user).model;
                if let Err(e) = fs::remove_file(&path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    return Err(io_error("remove", &path)(e));
                }
            }
        }
        Ok((metadata, true))
    }

    /// Writes `metadata`, the commit point.
    fn commit(&self, metadata: &Metadata) -> Result<(), StoreError> {
        write_record(
            &self.store.paths(self.user).metadata,
            metadata.format(),
            metadata,
        )
    }

    /// Fits `params` on the samples `matrix` and the accepted attempts `updates` (the
    /// template), with the threshold and update guard of those rows.
    fn fit(
        &self,
        params: &DetectorParams,
        matrix: &Array2<f64>,
        updates: &Array2<f64>,
        key_sequence: &[String],
        now: NaiveDateTime,
    ) -> Result<ModelFile, StoreError> {
        let fit_error = |source| StoreError::Fit {
            user: self.user.clone(),
            source,
        };
        let rows = training_rows(matrix, updates);
        let (model, thresholds) = params.fit_with_thresholds(rows.view()).map_err(fit_error)?;
        Ok(ModelFile {
            levels: thresholds.levels,
            threshold: thresholds.threshold,
            user_id: self.user.clone(),
            trained_at: now.into(),
            trained_on_samples: matrix.nrows(),
            key_sequence: key_sequence.to_vec(),
            params: params.clone(),
            model,
            trained_on_updates: updates.nrows(),
            update_guard: Some(thresholds.update_guard),
        })
    }

    /// Template update: keeps `features` (an attempt the current model accepted well above its
    /// threshold, see [`ModelFile::takes_update`]) among the user's newest `window` accepted
    /// attempts and retrains the model on the samples and those attempts. The samples and the
    /// enrolment count are unchanged. Returns the new metadata, or `None` (nothing written)
    /// when the user has no trained model or another phrase.
    pub fn add_update(
        &mut self,
        features: &Features,
        window: usize,
        now: NaiveDateTime,
    ) -> Result<Option<Metadata>, StoreError> {
        let Some(mut metadata) = self.metadata()? else {
            return Ok(None);
        };
        let Some(params) = metadata
            .params
            .clone()
            .filter(|_| metadata.trained_at.is_some())
        else {
            return Ok(None);
        };
        if metadata.key_sequence != features.key_sequence || window == 0 {
            return Ok(None);
        }
        let matrix = self.store.active_features(self.user, &metadata)?;
        let previous = self.store.updates(self.user, &metadata)?;
        let mut template = Template::with_recent(matrix.view(), previous.view(), window);
        template.push(&features.values_ms);
        let updates = template.recent_rows();
        let model = self.fit(&params, &matrix, &updates, &metadata.key_sequence, now)?;
        // The updates file first: a crash before the model is written leaves the old model,
        // which the next update or training replaces.
        let path = self.store.paths(self.user).updates;
        replace(&path, |w| npy::write(w, updates.view()))?;
        self.write_model(&mut metadata, &model)?;
        self.commit(&metadata)?;
        Ok(Some(metadata))
    }

    /// The stored samples' features when the user's phrase is `key_sequence` (`None` for no
    /// samples, another phrase, or a user of the old backend).
    pub fn phrase_rows(&self, key_sequence: &[String]) -> Result<Option<Array2<f64>>, StoreError> {
        let metadata = match self.metadata() {
            Ok(Some(m)) if m.key_sequence == key_sequence => m,
            Ok(_) | Err(StoreError::Legacy { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.store.features(self.user, &metadata).map(Some)
    }

    /// Removes all the user's files; returns whether there were any. The files are first moved
    /// into one temporary folder, the metadata (the commit point) first, so a crash leaves
    /// either the whole user or none of it (the folder is removed on the next open).
    pub fn delete(&mut self) -> Result<bool, StoreError> {
        let store = self.store;
        let paths = store.paths(self.user);
        let files = paths.all();
        let had_files = files.iter().any(|f| f.exists());
        let dir = &store.dir;
        if had_files {
            let trash = atomic::temp_path(dir, &format!("{DELETE_PREFIX}{}", self.user));
            fs::create_dir(&trash).map_err(io_error("create", &trash))?;
            move_existing(&files, &trash)?;
            atomic::sync_dir(dir).map_err(io_error("sync", dir))?;
            fs::remove_dir_all(&trash).map_err(io_error("remove", &trash))?;
        }
        // The failure count goes last: a deletion that fails before leaves it in force.
        let counted = match store.throttle_log.state(self.user) {
            Ok(state) => state.is_some(),
            Err(e) if e.is_damage() => {
                log::warn!(
                    "{} keeps a line of deleted user {}: {e}",
                    THROTTLE_LOG,
                    self.user
                );
                false
            }
            Err(e) => return Err(e),
        };
        if counted {
            store
                .throttle_log
                .erase(dir, self.user, |user| store.paths(user).throttle)?;
        }
        if had_files {
            let lock_path = lock::user_lock_path(dir, self.user.as_str());
            self.lock
                .remove_file()
                .map_err(io_error("remove", &lock_path))?;
        }
        Ok(had_files || counted)
    }

    /// Moves an old-backend user's files to `legacy/<id>/`, the metadata last: a crash before
    /// the end leaves the user still marked as legacy.
    fn archive_legacy(&self) -> Result<(), StoreError> {
        let paths = self.store.paths(self.user);
        let archive = self
            .store
            .dir
            .join(LEGACY_ARCHIVE_DIR)
            .join(self.user.as_str());
        fs::create_dir_all(&archive).map_err(io_error("create", &archive))?;
        move_existing(
            &[
                &paths.features,
                &paths.samples,
                &paths.legacy_model,
                &paths.metadata,
            ],
            &archive,
        )?;
        atomic::sync_dir(&archive).map_err(io_error("sync", &archive))?;
        atomic::sync_dir(&self.store.dir).map_err(io_error("sync", &self.store.dir))
    }

    /// Writes the model file and records it in `metadata` (which the caller then commits).
    fn write_model(&self, metadata: &mut Metadata, model: &ModelFile) -> Result<(), StoreError> {
        write_record(&self.store.paths(self.user).model, MODEL_FORMAT, model)?;
        note_model(metadata, model);
        Ok(())
    }
}

/// The rows a model is fitted on: the samples in use, then the template's accepted attempts,
/// oldest first.
fn training_rows(samples: &Array2<f64>, updates: &Array2<f64>) -> Array2<f64> {
    ndarray::concatenate(Axis(0), &[samples.view(), updates.view()])
        .expect("updates have the samples' feature length")
}

/// Records `model` in `metadata`.
fn note_model(metadata: &mut Metadata, model: &ModelFile) {
    metadata.detector = Some(model.params.kind());
    metadata.params = Some(model.params.clone());
    metadata.trained_at = Some(model.trained_at);
}

/// Stages `body` as a versioned JSON file (see [`atomic::stage`]).
fn stage_record<T: Serialize>(
    path: &Path,
    format: FileFormat,
    body: &T,
) -> Result<atomic::Staged, StoreError> {
    let bytes = versioned::encode(format, body).expect("store records serialise to JSON objects");
    stage(path, |w| w.write_all(&bytes))
}

fn stage(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> Result<atomic::Staged, StoreError> {
    atomic::stage(path, write).map_err(io_error("write", path))
}

/// Atomically writes `body` as a versioned JSON file.
fn write_record<T: Serialize>(path: &Path, format: FileFormat, body: &T) -> Result<(), StoreError> {
    let bytes = versioned::encode(format, body).expect("store records serialise to JSON objects");
    replace(path, |w| w.write_all(&bytes))
}

/// Moves those of `files` that exist into `dir`, in order, keeping their names.
fn move_existing(files: &[&PathBuf], dir: &Path) -> Result<(), StoreError> {
    for file in files {
        if let Some(name) = file.file_name()
            && file.exists()
        {
            fs::rename(file, dir.join(name)).map_err(io_error("move", file))?;
        }
    }
    Ok(())
}

/// Wraps an I/O error with what was being done to which path.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn replace(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> Result<(), StoreError> {
    atomic::replace(path, write).map_err(io_error("write", path))
}

/// Appends `line` as JSON after the first `committed` bytes of `path` (dropping any uncommitted
/// tail); returns the new committed length and the file, for the caller to fsync.
fn append_line(
    path: &Path,
    committed: u64,
    line: &StoredSample,
) -> Result<(u64, fs::File), StoreError> {
    let io_error = |source| StoreError::Io {
        action: "append to",
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = serde_json::to_vec(line).expect("samples serialise");
    bytes.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length < committed {
        return Err(io_error(io::Error::other(format!(
            "it has {length} bytes, {committed} are committed"
        ))));
    }
    file.set_len(committed).map_err(io_error)?;
    file.seek(SeekFrom::Start(committed)).map_err(io_error)?;
    file.write_all(&bytes).map_err(io_error)?;
    Ok((committed + bytes.len() as u64, file))
}
