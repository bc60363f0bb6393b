//! Evaluation data sets in the CMU benchmark's layout (Killourhy & Maxion 2009,
//! `DSL-StrongPasswordData.csv`): `subject, sessionIndex, rep`, then timing columns in seconds,
//! one row per repetition, each subject's rows contiguous. Values are converted to
//! milliseconds, the unit of the product's features.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use thiserror::Error;

const ID_COLUMNS: [&str; 3] = ["subject", "sessionIndex", "rep"];

/// A subject's samples, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Subject id (`s002` …).
    pub id: String,
    /// One row per repetition, features in ms.
    pub samples_ms: Array2<f64>,
    /// The session of each row (1 where the source records none).
    pub sessions: Vec<u32>,
}

/// A data set: subjects in file order, all with the same features.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Column names of the features (`H.period`, `DD.period.t`, …).
    pub feature_names: Vec<String>,
    /// Subjects in file order.
    pub subjects: Vec<Subject>,
    /// Repetitions left out while loading (raw event files: a different key sequence), each
    /// with the reason.
    pub skipped: Vec<String>,
}

/// Why a data set could not be loaded.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("cannot read data set {path}: {source}")]
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

impl DataError {
    pub(super) fn format(source_name: &str, line: usize, message: String) -> DataError {
        DataError::Format {
            source_name: source_name.to_string(),
            line,
            message,
        }
    }
}

/// Reads a file whole, naming it in the error.
pub(super) fn read_text(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A CSV text's header and its numbered lines after it (1-based, `\r` trimmed); an empty text
/// is an error naming `source_name`.
pub(super) fn csv_lines<'a>(
    text: &'a str,
    source_name: &str,
) -> Result<(&'a str, impl Iterator<Item = (usize, &'a str)>), DataError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines
        .next()
        .ok_or_else(|| DataError::format(source_name, 1, "the file is empty".into()))?;
    Ok((header, lines))
}

/// Reads and parses a data set in the CMU layout.
pub fn load_csv(path: &Path) -> Result<Dataset, DataError> {
    parse_csv(&read_text(path)?, &path.display().to_string())
}

/// Parses CSV text in the CMU layout; `source_name` names it in errors.
pub fn parse_csv(text: &str, source_name: &str) -> Result<Dataset, DataError> {
    let error = |line: usize, message: String| DataError::format(source_name, line, message);
    let (header, lines) = csv_lines(text, source_name)?;
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

    let mut subjects: Vec<(String, Vec<f64>, Vec<u32>)> = Vec::new();
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
        let session: u32 = fields[1].parse().map_err(|_| {
            error(
                line,
                format!("sessionIndex is not a whole number: {:?}", fields[1]),
            )
        })?;
        let (values, sessions) = match subjects.last_mut() {
            Some((id, values, sessions)) if id == subject => (values, sessions),
            _ => {
                if subjects.iter().any(|(id, _, _)| id == subject) {
                    return Err(error(
                        line,
                        format!("rows of subject {subject} are not contiguous"),
                    ));
                }
                subjects.push((subject.to_string(), Vec::new(), Vec::new()));
                let (_, values, sessions) = subjects.last_mut().expect("just pushed");
                (values, sessions)
            }
        };
        sessions.push(session);
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
        .map(|(id, values, sessions)| Subject::new(id, n_features, values, sessions))
        .collect();
    Ok(Dataset {
        feature_names,
        subjects,
        skipped: Vec::new(),
    })
}

impl Subject {
    /// A subject from its rows' values (row-major, `n_features` per row) and sessions.
    pub(super) fn new(
        id: String,
        n_features: usize,
        values: Vec<f64>,
        sessions: Vec<u32>,
    ) -> Subject {
        let samples_ms = Array2::from_shape_vec((sessions.len(), n_features), values)
            .expect("each row holds exactly n_features values");
        Subject {
            id,
            samples_ms,
            sessions,
        }
    }
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
        let d = parse_csv(SMALL, "small.csv").unwrap();
        assert_eq!(d.feature_names, ["H.a", "DD.a.b", "UD.a.b", "H.b"]);
        assert_eq!(d.subjects.len(), 2);
        assert_eq!(d.subjects[0].samples_ms.dim(), (2, 4));
        assert_eq!(d.subjects[1].samples_ms[(0, 0)], 200.0);
        assert_eq!(d.subjects[0].sessions, [1, 1]);
    }

    #[test]
    fn rejects_short_row_with_line_number() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,0.1\ns1,1,2\n";
        let err = parse_csv(text, "x.csv").unwrap_err();
        assert_eq!(err.to_string(), "x.csv, line 3: 3 fields, the header has 4");
    }

    #[test]
    fn rejects_non_numeric_value() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,abc\n";
        let err = parse_csv(text, "x.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv, line 2: H.a is not a finite number: \"abc\""
        );
    }

    #[test]
    fn rejects_a_session_that_is_not_a_number() {
        let text = "subject,sessionIndex,rep,H.a\ns1,one,1,0.1\n";
        let err = parse_csv(text, "x.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv, line 2: sessionIndex is not a whole number: \"one\""
        );
    }

    #[test]
    fn rejects_wrong_header_and_empty_file() {
        assert!(parse_csv("a,b,c\n", "x").is_err());
        assert!(parse_csv("", "x").is_err());
    }

    #[test]
    fn rejects_interleaved_subjects() {
        let text = "subject,sessionIndex,rep,H.a\ns1,1,1,1\ns2,1,1,1\ns1,1,2,1\n";
        assert!(
            parse_csv(text, "x")
                .unwrap_err()
                .to_string()
                .contains("not contiguous")
        );
    }
}
