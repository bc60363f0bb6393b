//! Where `eval`'s data comes from (a bundled set, a CSV in the CMU layout, a raw event file, a
//! model store's users) and the protocol its options give.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use keystroke_core::capture::Capture;
use keystroke_core::eval::{
    BundledSet, CMU, Cohort, Dataset, IMPOSTOR_REPS, Protocol, RawColumns, Split, UpdatePhase,
    load_csv, load_raw_events, store_dataset,
};
use keystroke_core::store::{Store, UserId};

/// The data options of `eval`.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A bundled data set: cmu, meu-mobile or keypad (sample_sessions/, with READMEs).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["cmu", "data", "raw_events", "store"])]
    pub set: Option<String>,
    /// A model store: every user who typed --phrase-of's phrase, each against the others
    /// (trained on the first half of each user's samples).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cmu", "data", "raw_events", "train_samples", "genuine_from", "train_session"], requires = "phrase_of")]
    pub store: Option<PathBuf>,
    /// With --store: the user whose phrase the evaluated users typed.
    #[arg(long, value_name = "USER", requires = "store")]
    pub phrase_of: Option<String>,
    /// With --store: only the samples of this source (global, window, browser, file, api, or a
    /// client's own name).
    #[arg(long, value_name = "SOURCE", requires = "store", value_parser = source_name)]
    pub source: Option<String>,
    /// The CMU benchmark CSV, with the paper's protocol (default: the bundled copy).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["data", "raw_events"])]
    pub cmu: Option<PathBuf>,
    /// Any CSV in the CMU layout (subject,sessionIndex,rep, then H./DD./UD. columns in seconds).
    #[arg(long, value_name = "FILE", conflicts_with = "raw_events")]
    pub data: Option<PathBuf>,
    /// A raw event file: one CSV row per key press (columns named by the --*-column options).
    #[arg(long, value_name = "FILE")]
    pub raw_events: Option<PathBuf>,
    /// Raw events: the subject column.
    #[arg(long, value_name = "NAME", default_value = "subject")]
    pub subject_column: String,
    /// Raw events: the session column (a whole number), if the file has one.
    #[arg(long, value_name = "NAME")]
    pub session_column: Option<String>,
    /// Raw events: the repetition column (rows sharing subject, session and repetition are
    /// one sample).
    #[arg(long, value_name = "NAME", default_value = "repetition")]
    pub repetition_column: String,
    /// Raw events: the key name column.
    #[arg(long, value_name = "NAME", default_value = "key")]
    pub key_column: String,
    /// Raw events: the key-down time column.
    #[arg(long, value_name = "NAME", default_value = "down")]
    pub down_column: String,
    /// Raw events: the key-up time column.
    #[arg(long, value_name = "NAME", default_value = "up")]
    pub up_column: String,
    /// Raw events: the unit of the times.
    #[arg(long, value_name = "ms|s", default_value = "ms")]
    pub time_unit: TimeUnit,
    /// Train on the first N repetitions (default: a bundled set's full enrolment, else half
    /// of the fewest repetitions any subject has; the product enrols with 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub train_samples: Option<u16>,
    /// First genuine test repetition, 1-based (default: a bundled set's first after its full
    /// enrolment, so that every N is tested on the same samples; else the first after
    /// training). The genuine test runs to each subject's last repetition.
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u16).range(1..))]
    pub genuine_from: Option<u16>,
    /// Train on this session instead (its first --train-samples repetitions, or all); the
    /// genuine test is every later session.
    #[arg(long, value_name = "S", conflicts_with = "genuine_from")]
    pub train_session: Option<u32>,
    /// Impostor samples: the first K repetitions of every other subject.
    #[arg(long, value_name = "K", default_value_t = IMPOSTOR_REPS as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub impostor_reps: u16,
}

/// A source name as samples store it.
fn source_name(name: &str) -> Result<String, String> {
    Capture::of(name)
        .validate()
        .map(|()| name.to_string())
        .map_err(|e| e.to_string().replace("capture.source", "the source"))
}

/// The unit of a raw event file's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeUnit {
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

/// A loaded data set and the protocol to evaluate it with.
pub struct Source {
    /// The set's id, or the file's path.
    pub name: String,
    /// The data.
    pub data: Dataset,
    /// The protocol.
    pub protocol: Protocol,
}

impl DataArgs {
    /// Loads the data and builds the protocol, with template update when `update_window`.
    pub fn load(&self, update_window: Option<usize>) -> anyhow::Result<Source> {
        if let Some(dir) = &self.store {
            return self.load_store(dir, update_window);
        }
        let (name, data, full) = if let Some(path) = &self.data {
            (path.display().to_string(), load_csv(path)?, None)
        } else if let Some(path) = &self.raw_events {
            let data = load_raw_events(path, &self.raw_columns())?;
            (path.display().to_string(), data, None)
        } else if let Some(path) = &self.cmu {
            (CMU.id.to_string(), load_csv(path)?, Some(CMU))
        } else {
            let set = BundledSet::by_id(self.set.as_deref().unwrap_or(CMU.id))
                .map_err(anyhow::Error::msg)?;
            (set.id.to_string(), set.load()?, Some(set))
        };
        let fewest = data
            .subjects
            .iter()
            .map(|s| s.samples_ms.nrows())
            .min()
            .unwrap_or(0);
        let train = self
            .train_samples
            .map(usize::from)
            .or(full.map(|s| s.full_train))
            .unwrap_or((fewest / 2).max(1));
        let split = match self.train_session {
            Some(session) => Split::Session {
                session,
                train: self.train_samples.map(usize::from),
            },
            None => Split::Reps {
                train,
                genuine_from: self
                    .genuine_from
                    .map(|r| usize::from(r) - 1)
                    .or(full.map(|s| s.full_train))
                    .unwrap_or(train),
                genuine_to: None,
            },
        };
        let impostor_rows = usize::from(self.impostor_reps);
        let protocol = Protocol {
            split,
            impostor_rows,
            update: update_window.map(|window| UpdatePhase::new(window, impostor_rows)),
        };
        Ok(Source {
            name,
            data,
            protocol,
        })
    }

    fn load_store(&self, dir: &Path, update_window: Option<usize>) -> anyhow::Result<Source> {
        anyhow::ensure!(
            update_window.is_none(),
            "--protocol update needs a bundled set or a file, not a store"
        );
        anyhow::ensure!(
            dir.is_dir(),
            "the model store {} does not exist",
            dir.display()
        );
        let store = Store::open(dir)
            .with_context(|| format!("cannot open the model store {}", dir.display()))?;
        let user = UserId::parse(self.phrase_of.as_deref().unwrap_or_default())?;
        let (data, mut protocol) = store_dataset(&store, &user, self.source.as_deref())?;
        protocol.impostor_rows = protocol.impostor_rows.min(usize::from(self.impostor_reps));
        let source = self
            .source
            .as_ref()
            .map_or(String::new(), |s| format!(", {s} samples"));
        Ok(Source {
            name: format!("{} (users typing {user}'s phrase{source})", dir.display()),
            data,
            protocol,
        })
    }

    fn raw_columns(&self) -> RawColumns {
        RawColumns {
            subject: self.subject_column.clone(),
            session: self.session_column.clone(),
            repetition: self.repetition_column.clone(),
            key: self.key_column.clone(),
            down: self.down_column.clone(),
            up: self.up_column.clone(),
            ms_per_unit: match self.time_unit {
                TimeUnit::Ms => 1.0,
                TimeUnit::S => 1000.0,
            },
        }
    }
}

/// One line saying what the protocol does, for table output.
pub fn describe(source: &Source) -> String {
    let p = &source.protocol;
    let split = match p.split {
        Split::Reps {
            train,
            genuine_from,
            ..
        } => format!(
            "train on reps 1–{train}, genuine = reps {} onwards",
            genuine_from + 1
        ),
        Split::Session { session, train } => match train {
            Some(n) => format!(
                "train on the first {n} reps of session {session}, genuine = later sessions"
            ),
            None => format!("train on session {session}, genuine = later sessions"),
        },
    };
    let update = match &p.update {
        Some(u) => {
            let (first, last) = (u.cohort_rows.start + 1, u.cohort_rows.end);
            let cohort = match u.cohort {
                Cohort::Others => format!(", and every other subject's reps {first}–{last}"),
                Cohort::Half => format!(
                    ", and reps {first}–{last} of every second other subject, the rest probing"
                ),
                Cohort::None => String::new(),
            };
            format!(
                "; the reps between update a template of {} attempts (guard: percentile {} of \
                 its rows' held-out scores, the isolation forest's own scores{cohort})",
                u.window, u.guard_percent
            )
        }
        None => String::new(),
    };
    format!(
        "{}: {} subjects; {split}{update}; impostors = first {} reps of each other subject",
        source.name,
        source.data.subjects.len(),
        p.impostor_rows
    )
}
