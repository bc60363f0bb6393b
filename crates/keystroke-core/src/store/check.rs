//! `store check [--repair]`: reads every file of every user as the server would, under the
//! exclusive store lock (so no writer is half-way), and reports what is wrong with which user and
//! file. Two kinds of finding:
//! - **damage**: committed data that cannot be read. Repair moves it into
//!   `quarantine/<date>/` (the whole user when their samples cannot be trusted, else the one
//!   file) — never deleting it;
//! - **uncommitted** leftovers of an interrupted write (a tail past the committed length, feature
//!   rows the metadata does not count, files of a first sample that never committed, a model
//!   file the metadata does not use, temporary files): harmless, the next write discards or
//!   replaces them; repair does so now (moving files to quarantine, never deleting them).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use ndarray::s;

use super::{
    Store, StoreError, UserId, UserPaths, atomic, io_error, lock, npy, owner_of_file, replace,
};

/// Folder (inside the store) where `store check --repair` moves what cannot be read.
pub const QUARANTINE_DIR: &str = "quarantine";

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Committed data cannot be read: the user is refused until it is repaired.
    Damage,
    /// Left by an interrupted write; never read, discarded by the next write.
    Uncommitted,
}

/// What repair does about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fix {
    /// Cut the file back to this many bytes (the committed ones).
    Truncate(u64),
    /// Rewrite the features file with only its first this-many (committed) rows.
    KeepRows(usize),
    /// Move these files into the quarantine folder.
    Quarantine(Vec<PathBuf>),
    /// Remove this temporary file or folder (by name in the store).
    RemoveTemp(String),
    /// Copy the throttle log into quarantine, then rewrite it from its readable lines.
    RewriteThrottleLog,
}

/// One thing `store check` found.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Whose file it is (`None` for a file of no user).
    pub user: Option<UserId>,
    /// The file.
    pub file: PathBuf,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    fix: Fix,
}

/// What `store check` found and, with repair, did.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Users whose files were read.
    pub users: usize,
    /// Everything found.
    pub findings: Vec<Finding>,
    /// What repair did, one line per action.
    pub repairs: Vec<String>,
}

impl CheckReport {
    /// No committed data is damaged (uncommitted leftovers are harmless).
    pub fn is_clean(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Damage)
    }
}

impl Store {
    /// Checks every file of every user; with `repair`, fixes what it found (see the module
    /// documentation). `now` names the quarantine folder. Waits for the writers of every process
    /// to finish, and keeps new ones waiting until it is done.
    pub fn check(&self, repair: bool, now: NaiveDateTime) -> Result<CheckReport, StoreError> {
        let _whole_store = lock::store(&self.dir, lock::Mode::Exclusive)
            .map_err(io_error("lock the store folder", &self.dir))?;
        let mut report = CheckReport::default();
        for name in atomic::temp_names(&self.dir).map_err(io_error("list", &self.dir))? {
            report.findings.push(Finding {
                user: atomic::temp_target(&name).and_then(owner_of_file),
                file: self.dir.join(&name),
                severity: Severity::Uncommitted,
                message: "temporary file of an interrupted write".into(),
                fix: Fix::RemoveTemp(name),
            });
        }
        for user in self.owners()? {
            report.users += 1;
            report.findings.extend(self.check_user(&user));
        }
        report.findings.extend(self.check_throttle_log()?);
        if repair {
            let quarantine = self
                .dir
                .join(QUARANTINE_DIR)
                .join(now.format("%Y-%m-%dT%H-%M-%S").to_string());
            for finding in &report.findings {
                report.repairs.push(self.fix(finding, &quarantine)?);
            }
        }
        Ok(report)
    }

    /// Every user with a file in the store, sorted.
    fn owners(&self) -> Result<BTreeSet<UserId>, StoreError> {
        let mut users = BTreeSet::new();
        for entry in fs::read_dir(&self.dir).map_err(io_error("list", &self.dir))? {
            let entry = entry.map_err(io_error("list", &self.dir))?;
            if let Some(user) = entry.file_name().to_str().and_then(owner_of_file) {
                users.insert(user);
            }
        }
        Ok(users)
    }

    fn check_user(&self, user: &UserId) -> Vec<Finding> {
        let paths = self.paths(user);
        let finding = |file: &Path, severity, message: String, fix| Finding {
            user: Some(user.clone()),
            file: file.to_path_buf(),
            severity,
            message,
            fix,
        };
        let whole_user = || Fix::Quarantine(existing(&paths));
        let metadata = match self.metadata(user) {
            Ok(Some(metadata)) => metadata,
            Err(StoreError::Legacy { .. }) => return Vec::new(), // archived on its next /train
            Ok(None) => {
                return existing(&paths)
                    .iter()
                    .map(|file| {
                        finding(
                            file,
                            Severity::Uncommitted,
                            "file of a first sample that was never committed".into(),
                            Fix::Quarantine(vec![file.clone()]),
                        )
                    })
                    .collect();
            }
            Err(e) => {
                return vec![finding(
                    &paths.metadata,
                    Severity::Damage,
                    e.to_string(),
                    whole_user(),
                )];
            }
        };
        let mut findings = Vec::new();
        match npy::read(&paths.features) {
            Ok(rows)
                if rows.nrows() > metadata.samples && rows.ncols() == metadata.feature_length =>
            {
                findings.push(finding(
                    &paths.features,
                    Severity::Uncommitted,
                    format!(
                        "{} rows past the {} committed",
                        rows.nrows() - metadata.samples,
                        metadata.samples
                    ),
                    Fix::KeepRows(metadata.samples),
                ));
            }
            _ => {
                if let Err(e) = self.features(user, &metadata) {
                    findings.push(finding(
                        &paths.features,
                        Severity::Damage,
                        e.to_string(),
                        whole_user(),
                    ));
                }
            }
        }
        match self.samples(user, &metadata) {
            Err(e) => findings.push(finding(
                &paths.samples,
                Severity::Damage,
                e.to_string(),
                whole_user(),
            )),
            Ok(_) => {
                let length = fs::metadata(&paths.samples).map_or(0, |m| m.len());
                if length > metadata.samples_file_bytes {
                    findings.push(finding(
                        &paths.samples,
                        Severity::Uncommitted,
                        format!(
                            "{} bytes past the {} committed",
                            length - metadata.samples_file_bytes,
                            metadata.samples_file_bytes
                        ),
                        Fix::Truncate(metadata.samples_file_bytes),
                    ));
                }
            }
        }
        let one_file = |file: &Path, result: Result<(), StoreError>| {
            result.err().map(|e| {
                finding(
                    file,
                    Severity::Damage,
                    e.to_string(),
                    Fix::Quarantine(vec![file.to_path_buf()]),
                )
            })
        };
        match self.model(user, &metadata) {
            Ok(None) if paths.model.exists() => findings.push(finding(
                &paths.model,
                Severity::Uncommitted,
                if metadata.trained_at.is_none() {
                    "never used: the metadata records no model (one dropped when samples were \
                     excluded, or an interrupted first training)"
                } else {
                    "never used: trained on samples the metadata does not have in use (an \
                     interrupted write)"
                }
                .into(),
                Fix::Quarantine(vec![paths.model.clone()]),
            )),
            result => findings.extend(one_file(&paths.model, result.map(drop))),
        }
        findings.extend(one_file(
            &paths.updates,
            self.updates(user, &metadata).map(drop),
        ));
        findings.extend(one_file(
            &paths.throttle,
            self.legacy_throttle(user).map(drop),
        ));
        // A damaged whole user is quarantined once, not once per file.
        if findings.iter().any(|f| f.fix == whole_user()) {
            findings.retain(|f| f.severity == Severity::Damage);
            for later in findings.iter_mut().skip(1) {
                later.fix = Fix::Quarantine(Vec::new());
            }
        }
        findings
    }

    /// The throttle log: a torn last line is an interrupted append; any other unreadable line
    /// is damage, repaired by rewriting the log from its readable lines (a copy of the damaged
    /// file goes to quarantine first).
    fn check_throttle_log(&self) -> Result<Vec<Finding>, StoreError> {
        let Some(log) = self.throttle_log.report()? else {
            return Ok(Vec::new());
        };
        let file = self.throttle_log.path().to_path_buf();
        let mut findings = Vec::new();
        if !log.damaged.is_empty() {
            let lines: Vec<String> = log
                .damaged
                .iter()
                .map(|(line, why)| format!("line {line}: {why}"))
                .collect();
            findings.push(Finding {
                user: None,
                file: file.clone(),
                severity: Severity::Damage,
                message: lines.join("; "),
                fix: Fix::RewriteThrottleLog,
            });
        } else if log.len > log.complete_bytes {
            findings.push(Finding {
                user: None,
                file,
                severity: Severity::Uncommitted,
                message: format!(
                    "{} bytes of an unfinished last line",
                    log.len - log.complete_bytes
                ),
                fix: Fix::Truncate(log.complete_bytes),
            });
        }
        Ok(findings)
    }

    /// Applies `finding`'s fix; returns what it did.
    fn fix(&self, finding: &Finding, quarantine: &Path) -> Result<String, StoreError> {
        let file = &finding.file;
        match &finding.fix {
            Fix::RemoveTemp(name) => {
                atomic::remove_temp(&self.dir, name).map_err(io_error("remove", file))?;
                Ok(format!("removed {}", file.display()))
            }
            Fix::Truncate(length) => {
                let handle = OpenOptions::new()
                    .write(true)
                    .open(file)
                    .map_err(io_error("open", file))?;
                handle
                    .set_len(*length)
                    .map_err(io_error("truncate", file))?;
                handle.sync_all().map_err(io_error("sync", file))?;
                let kept = if finding.user.is_some() {
                    "its last committed sample"
                } else {
                    "its last complete line"
                };
                Ok(format!(
                    "truncated {} to {length} bytes ({kept})",
                    file.display()
                ))
            }
            Fix::KeepRows(rows) => {
                let all = npy::read(file).map_err(|message| StoreError::Corrupt {
                    user: finding.user.clone().expect("feature files have a user"),
                    path: file.clone(),
                    message,
                })?;
                replace(file, |w| npy::write(w, all.slice(s![..*rows, ..])))?;
                Ok(format!(
                    "rewrote {} with its {rows} committed rows",
                    file.display()
                ))
            }
            Fix::RewriteThrottleLog => {
                let Some(log) = self.throttle_log.report()? else {
                    return Ok(format!("{} is gone", file.display()));
                };
                fs::create_dir_all(quarantine).map_err(io_error("create", quarantine))?;
                let copy = quarantine.join(super::THROTTLE_LOG);
                fs::copy(file, &copy).map_err(io_error("copy", file))?;
                self.throttle_log.rewrite(&log.states)?;
                Ok(format!(
                    "copied {} to {}, then rewrote it with the last readable state of its {} \
                     user(s), without {} unreadable line(s)",
                    file.display(),
                    copy.display(),
                    log.states.len(),
                    log.damaged.len()
                ))
            }
            Fix::Quarantine(files) if files.is_empty() => Ok(format!(
                "{} went to quarantine with its user",
                file.display()
            )),
            Fix::Quarantine(files) => {
                fs::create_dir_all(quarantine).map_err(io_error("create", quarantine))?;
                let mut moved = Vec::new();
                for file in files {
                    let name = file.file_name().expect("store files have names");
                    let target = quarantine.join(name);
                    fs::rename(file, &target).map_err(io_error("move", file))?;
                    moved.push(name.to_string_lossy().into_owned());
                }
                atomic::sync_dir(quarantine).map_err(io_error("sync", quarantine))?;
                atomic::sync_dir(&self.dir).map_err(io_error("sync", &self.dir))?;
                Ok(format!(
                    "moved {} to {}",
                    moved.join(", "),
                    quarantine.display()
                ))
            }
        }
    }
}

/// Those of the user's files that exist (the old backend's are left to legacy archiving).
fn existing(paths: &UserPaths) -> Vec<PathBuf> {
    paths
        .all()
        .into_iter()
        .filter(|f| **f != paths.legacy_model && f.exists())
        .cloned()
        .collect()
}
