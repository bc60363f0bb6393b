//! Loader for the CMU keystroke benchmark CSV (Killourhy & Maxion 2009,
//! `DSL-StrongPasswordData.csv`): `subject, sessionIndex, rep`, then timing columns in seconds.
//! Values are converted to milliseconds, the unit of the product's features.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use thiserror::Error;

/// Name of the benchmark file.
pub const CMU_FILE_NAME: &str = "DSL-StrongPasswordData.csv";

/// Where the bundled copy lives, relative to the repository root.
pub const BUNDLED_CMU_PATH: &str = "sample_sessions/cmu/DSL-StrongPasswordData.csv";

const ID_COLUMNS: [&str; 3] = ["subject", "sessionIndex", "rep"];

/// A subject's samples, in file order (session, then repetition).
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Subject id (`s002` …).
    pub id: String,
    /// One row per repetition, features in ms.
    pub samples_ms: Array2<f64>,
}

/// The benchmark: subjects in file order, all with the same features.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Column names of the features (`H.period`, `DD.period.t`, …).
    pub feature_names: Vec<String>,
    /// Subjects in file order.
    pub subjects: Vec<Subject>,
}

/// Why the benchmark file could not be loaded.
#[derive(Debug, Error)]
pub enum CmuError {
    /// The file could not be read.
    #[error("cannot read CMU benchmark {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The content is malformed.
    #[error("{source_name}, line {line}: {message}")]
    Format {
        /// The file (or other source) name.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads and parses the benchmark file.
pub fn load_cmu(path: &Path) -> Result<Dataset, CmuError> {
    let text = std::fs::read_to_string(path).map_err(|source| CmuError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_cmu(&text, &path.display().to_string())
}

/// Finds the benchmark: `explicit` if given, else the bundled copy under the working directory,
/// else the one in the source tree this crate was built from (the workspace root).
pub fn locate_cmu(explicit: Option<&Path>) -> Result<PathBuf, CmuError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let candidates = [
        PathBuf::from(BUNDLED_CMU_PATH),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(BUNDLED_CMU_PATH),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| CmuError::Io {
            path: candidates[0].clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "not found here nor at {}; pass --cmu PATH",
                    candidates[1].display()
                ),
            ),
        })
}

/// Parses the benchmark's CSV text; `source_name` names it in errors.
pub fn parse_cmu(text: &str, source_name: &str) -> Result<Dataset, CmuError> {
    let error = |line: usize, message: String| CmuError::Format {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines
        .next()
        .ok_or_else(|| error(1, "the file is empty".into()))?;
    let columns: Vec<&str> = header.split(',').collect();
    if columns.len() <= ID_COLUMNS.len() || columns[..ID_COLUMNS.len()] != ID_COLUMNS {
        return Err(error(
            1,
            format!(
                "header must start with {} and name timing columns",
                ID_COLUMNS.join(",")
            ),
        ));
    }
    let feature_names: Vec<String> = columns[ID_COLUMNS.len()..]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let n_features = feature_names.len();

    let mut subjects: Vec<(String, Vec<f64>)> = Vec::new();
    for (line, text) in lines {
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != columns.len() {
            return Err(error(
                line,
                format!("{} fields, the header has {}", fields.len(), columns.len()),
            ));
        }
        let subject = fields[0];
        if subject.is_empty() {
            return Err(error(line, "empty subject id".into()));
        }
        let values = match subjects.last_mut() {
            Some((id, values)) if id == subject => values,
            _ => {
                if subjects.iter().any(|(id, _)| id == subject) {
                    return Err(error(
                        line,
                        format!("rows of subject {subject} are not contiguous"),
                    ));
                }
                subjects.push((subject.to_string(), Vec::new()));
                &mut subjects.last_mut().expect("just pushed").1
            }
        };
        for (column, field) in columns[ID_COLUMNS.len()..]
            .iter()
            .zip(&fields[ID_COLUMNS.len()..])
        {
            let seconds: f64 = field
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    error(line, format!("{column} is not a finite number: {field:?}"))
                })?;
            values.push(seconds * 1000.0);
        }
    }
    if subjects.is_empty() {
        return Err(error(2, "no data rows".into()));
    }
    let subjects = subjects
        .into_iter()
        .map(|(id, values)| {
            let rows = values.len() / n_features;
            let samples_ms = Array2::from_shape_vec((rows, n_features), values)
                .expect("each row pushed exactly n_features values");
            Subject { id, samples_ms }
        })
        .collect();
    Ok(Dataset {
        feature_names,
        subjects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\r\n\
        s1,1,1,0.1,0.2,0.1,0.05\r\n\
        s1,1,2,0.11,0.21,0.1,0.06\r\n\
        s2,1,1,0.2,0.3,0.1,0.07\r\n";

    #[test]
    fn parses_subjects_in_ms() {
        let d = parse_cmu(SMALL, "small.csv").unwrap();
        assert_eq!(d.feature_names, ["H.a", "DD.a.b", "UD.a.b", "H.b"]);
        assert_eq!(d.subjects.len(), 2);
        assert_eq!(d.subjects[0].samples_ms.dim(), (2, 4));
        assert_eq!(d.subjects[1].samples_ms[(0, 0)], 200.0);
    }

    #[test]
    fn rejects_short_row_with_line_number() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,0.1\ns1,1,2\n";
        let err = parse_cmu(text, "x.csv").unwrap_err();
        assert_eq!(err.to_string(), "x.csv, line 3: 3 fields, the header has 4");
    }

    #[test]
    fn rejects_non_numeric_value() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,abc\n";
        let err = parse_cmu(text, "x.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv, line 2: H.a is not a finite number: \"abc\""
        );
    }

    #[test]
    fn rejects_wrong_header_and_empty_file() {
        assert!(parse_cmu("a,b,c\n", "x").is_err());
        assert!(parse_cmu("", "x").is_err());
    }

    #[test]
    fn rejects_interleaved_subjects() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,1\ns2,1,1,1\ns1,1,2,1\n";
        assert!(
            parse_cmu(text, "x")
                .unwrap_err()
                .to_string()
                .contains("not contiguous")
        );
    }
}
