//! Raw per-key event files as evaluation data: one CSV row per key press (subject, repetition,
//! key, down time, up time; an optional session), the columns named by the caller. Each
//! repetition becomes one sample through the product's own path ([`Sample::from_events`], then
//! [`Features::of`]), so its features are exactly those live capture would give.
//!
//! Subjects and their repetitions keep the order in which they first appear. The data set's key
//! sequence is the one most repetitions share; a repetition with another one (a typo, a missing
//! key) or with events that do not form a sample is left out and listed in
//! [`Dataset::skipped`]. Repeated keys get numbered column names (`one`, `one2`, …).

use std::collections::HashMap;
use std::path::Path;

use super::dataset::{DataError, Dataset, Subject, csv_lines, read_text};
use crate::capture::{KeyAction, KeyEvent, Sample};
use crate::features::{Features, feature_names};

/// Which columns hold what, and the unit of the times.
#[derive(Debug, Clone, PartialEq)]
pub struct RawColumns {
    /// The subject's id.
    pub subject: String,
    /// The session (a whole number), if the file records one.
    pub session: Option<String>,
    /// The repetition (any text: rows with the same subject, session and repetition are one
    /// sample).
    pub repetition: String,
    /// The key's name.
    pub key: String,
    /// When the key went down.
    pub down: String,
    /// When it came up.
    pub up: String,
    /// Milliseconds per unit of the times (1 for ms, 1000 for seconds).
    pub ms_per_unit: f64,
}

impl Default for RawColumns {
    fn default() -> RawColumns {
        RawColumns {
            subject: "subject".into(),
            session: None,
            repetition: "repetition".into(),
            key: "key".into(),
            down: "down".into(),
            up: "up".into(),
            ms_per_unit: 1.0,
        }
    }
}

/// Reads and converts a raw event file.
pub fn load_raw_events(path: &Path, columns: &RawColumns) -> Result<Dataset, DataError> {
    parse_raw_events(&read_text(path)?, columns, &path.display().to_string())
}

/// One repetition's presses, as read.
struct Repetition {
    label: String,
    session: u32,
    presses: Vec<(String, f64, f64)>,
}

/// Converts raw event CSV text; `source_name` names it in errors.
pub fn parse_raw_events(
    text: &str,
    columns: &RawColumns,
    source_name: &str,
) -> Result<Dataset, DataError> {
    let error = |line: usize, message: String| DataError::format(source_name, line, message);
    let (header, lines) = csv_lines(text, source_name)?;
    let header: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            error(
                1,
                format!("no column {name:?}; the header has {}", header.join(",")),
            )
        })
    };
    let subject_at = find(&columns.subject)?;
    let session_at = columns.session.as_deref().map(find).transpose()?;
    let repetition_at = find(&columns.repetition)?;
    let key_at = find(&columns.key)?;
    let down_at = find(&columns.down)?;
    let up_at = find(&columns.up)?;

    // Subjects in order of appearance, each with its repetitions in order of appearance.
    let mut subjects: Vec<(String, Vec<Repetition>)> = Vec::new();
    let mut index: HashMap<(String, String, String), (usize, usize)> = HashMap::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(error(
                line,
                format!("{} fields, the header has {}", fields.len(), header.len()),
            ));
        }
        let time = |at: usize, name: &str| {
            fields[at]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v * columns.ms_per_unit)
                .ok_or_else(|| {
                    error(
                        line,
                        format!("{name} is not a finite number: {:?}", fields[at]),
                    )
                })
        };
        let (down, up) = (time(down_at, &columns.down)?, time(up_at, &columns.up)?);
        if up < down {
            return Err(error(
                line,
                format!("released at {up} ms, before its press at {down} ms"),
            ));
        }
        let subject = fields[subject_at];
        if subject.is_empty() {
            return Err(error(line, "empty subject id".into()));
        }
        let session_text = session_at.map_or("", |at| fields[at]);
        let session: u32 = match session_at {
            Some(_) => session_text.parse().map_err(|_| {
                error(
                    line,
                    format!("the session is not a whole number: {session_text:?}"),
                )
            })?,
            None => 1,
        };
        let key = (
            subject.to_string(),
            session_text.to_string(),
            fields[repetition_at].to_string(),
        );
        let (s, r) = match index.get(&key) {
            Some(&at) => at,
            None => {
                let s = match subjects.iter().position(|(id, _)| id == subject) {
                    Some(s) => s,
                    None => {
                        subjects.push((subject.to_string(), Vec::new()));
                        subjects.len() - 1
                    }
                };
                let label = match session_at {
                    Some(_) => format!("session {session_text}, repetition {}", key.2),
                    None => format!("repetition {}", key.2),
                };
                subjects[s].1.push(Repetition {
                    label,
                    session,
                    presses: Vec::new(),
                });
                let at = (s, subjects[s].1.len() - 1);
                index.insert(key, at);
                at
            }
        };
        let name = fields[key_at];
        if name.is_empty() {
            return Err(error(line, "empty key name".into()));
        }
        subjects[s].1[r].presses.push((name.to_string(), down, up));
    }
    if subjects.is_empty() {
        return Err(error(2, "no data rows".into()));
    }
    convert(subjects).map_err(|first_skip| {
        error(
            2,
            format!("no repetition forms a sample (the first: {first_skip})"),
        )
    })
}

/// Turns every repetition into features and keeps those of the common key sequence; when none
/// forms a sample, the reason the first one does not.
fn convert(subjects: Vec<(String, Vec<Repetition>)>) -> Result<Dataset, String> {
    let mut skipped = Vec::new();
    let mut converted: Vec<(String, Vec<(Features, u32)>)> = Vec::new();
    for (id, repetitions) in subjects {
        let mut features = Vec::new();
        for repetition in repetitions {
            match features_of(&repetition) {
                Ok(f) => features.push((f, repetition.session)),
                Err(reason) => {
                    skipped.push(format!("subject {id}, {}: {reason}", repetition.label))
                }
            }
        }
        converted.push((id, features));
    }
    let mut counts: HashMap<&[String], usize> = HashMap::new();
    for (_, features) in &converted {
        for (f, _) in features {
            *counts.entry(f.key_sequence.as_slice()).or_default() += 1;
        }
    }
    // The most common sequence; ties go to the one seen first.
    let order: Vec<&[String]> = converted
        .iter()
        .flat_map(|(_, fs)| fs.iter().map(|(f, _)| f.key_sequence.as_slice()))
        .collect();
    let common = order
        .iter()
        .copied()
        .max_by_key(|seq| {
            (
                counts[seq],
                std::cmp::Reverse(order.iter().position(|s| s == seq)),
            )
        })
        .ok_or_else(|| skipped.first().cloned().unwrap_or_default())?
        .to_vec();
    let names = feature_names(&numbered(&common));
    let mut subjects = Vec::new();
    for (id, features) in converted {
        let (mut values, mut sessions) = (Vec::new(), Vec::new());
        for (position, (f, session)) in features.into_iter().enumerate() {
            if f.key_sequence == common {
                values.extend(f.values_ms);
                sessions.push(session);
            } else {
                skipped.push(format!(
                    "subject {id}, sample {}: keys {} differ from the data set's {}",
                    position + 1,
                    f.key_sequence.join(" "),
                    common.join(" ")
                ));
            }
        }
        if sessions.is_empty() {
            skipped.push(format!("subject {id}: no sample of the data set's keys"));
            continue;
        }
        subjects.push(Subject::new(id, names.len(), values, sessions));
    }
    Ok(Dataset {
        feature_names: names,
        subjects,
        skipped,
    })
}

/// One repetition's features, through the product's own sample path.
fn features_of(repetition: &Repetition) -> Result<Features, String> {
    let mut events = Vec::with_capacity(2 * repetition.presses.len());
    for (key, down, up) in &repetition.presses {
        events.push(KeyEvent::new(key.clone(), KeyAction::Down, *down)?);
        events.push(KeyEvent::new(key.clone(), KeyAction::Up, *up)?);
    }
    let sample = Sample::from_events(events).map_err(|e| e.to_string())?;
    Ok(Features::of(&sample))
}

/// Key names made unique by numbering repeats: `a b a` → `a b a2`, `1 4 1` → `1 4 1_2`.
fn numbered(keys: &[String]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    keys.iter()
        .map(|key| {
            let n = seen.entry(key).or_default();
            *n += 1;
            match *n {
                1 => key.clone(),
                n if key.ends_with(|c: char| c.is_ascii_digit()) => format!("{key}_{n}"),
                n => format!("{key}{n}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> RawColumns {
        RawColumns {
            subject: "user".into(),
            repetition: "rep".into(),
            key: "name".into(),
            down: "press".into(),
            up: "release".into(),
            ..RawColumns::default()
        }
    }

    #[test]
    fn each_repetition_becomes_one_sample_of_hold_down_down_and_up_down_times() {
        let text = "user,rep,press,release,name\n\
            a,1,0,80,x\na,1,200,260,y\na,1,350,400,x\n\
            a,2,0,90,x\na,2,210,270,y\na,2,300,390,x\n\
            b,1,0,50,x\nb,1,100,200,y\nb,1,250,300,x\n";
        let d = parse_raw_events(text, &columns(), "raw.csv").unwrap();
        assert_eq!(
            d.feature_names,
            [
                "H.x", "DD.x.y", "UD.x.y", "H.y", "DD.y.x2", "UD.y.x2", "H.x2"
            ]
        );
        assert_eq!(d.subjects.len(), 2);
        assert_eq!(d.subjects[0].samples_ms.nrows(), 2);
        assert_eq!(
            d.subjects[0].samples_ms.row(0).to_vec(),
            [80.0, 200.0, 120.0, 60.0, 150.0, 90.0, 50.0]
        );
        assert_eq!(d.subjects[1].id, "b");
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn a_repetition_with_other_keys_is_left_out_and_listed() {
        let text = "user,rep,press,release,name\n\
            a,1,0,80,x\na,1,200,260,y\n\
            a,2,0,80,x\na,2,200,260,z\n\
            b,1,0,80,x\nb,1,200,260,y\n";
        let d = parse_raw_events(text, &columns(), "raw.csv").unwrap();
        assert_eq!(d.subjects[0].samples_ms.nrows(), 1);
        assert_eq!(
            d.skipped,
            ["subject a, sample 2: keys x z differ from the data set's x y"]
        );
    }

    #[test]
    fn seconds_and_a_session_column_are_read() {
        let text = "user,day,rep,press,release,name\n\
            a,2,1,0,0.08,x\na,2,1,0.2,0.26,y\n";
        let cols = RawColumns {
            session: Some("day".into()),
            ms_per_unit: 1000.0,
            ..columns()
        };
        let d = parse_raw_events(text, &cols, "raw.csv").unwrap();
        assert_eq!(d.subjects[0].sessions, [2]);
        assert!((d.subjects[0].samples_ms[(0, 0)] - 80.0).abs() < 1e-9);
    }

    #[test]
    fn bad_input_names_the_line_and_the_column() {
        let header = "user,rep,press,release,name\n";
        let cases = [
            (
                "user,rep,press,name\n",
                "raw.csv, line 1: no column \"release\"; the header has user,rep,press,name",
            ),
            (
                "a,1,0,x,k\n",
                "raw.csv, line 2: release is not a finite number: \"x\"",
            ),
            (
                "a,1,50,20,k\n",
                "raw.csv, line 2: released at 20 ms, before its press at 50 ms",
            ),
            ("a,1,0,20\n", "raw.csv, line 2: 4 fields, the header has 5"),
        ];
        for (body, expected) in cases {
            let text = if body.starts_with("user") {
                body.to_string()
            } else {
                format!("{header}{body}")
            };
            let err = parse_raw_events(&text, &columns(), "raw.csv").unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }
}

#[cfg(test)]
mod bundled_keypad {
    use super::*;
    use crate::eval::BundledSet;

    /// The keypad set ships as the source's raw events and as a CMU-layout conversion made
    /// independently of this crate: converting the raw file through the product's sample path
    /// gives the same features (to the conversion's 4 decimals of a second).
    #[test]
    fn raw_keypad_events_give_the_features_of_the_cmu_layout_file() {
        let csv = BundledSet::by_id("keypad").unwrap().load().unwrap();
        let raw_path = BundledSet::by_id("keypad")
            .unwrap()
            .locate()
            .unwrap()
            .with_file_name("keypad_raw_events.csv");
        let columns = RawColumns {
            subject: "user".into(),
            repetition: "session".into(),
            key: "keyname".into(),
            down: "timepress".into(),
            up: "timerelease".into(),
            ..RawColumns::default()
        };
        let raw = load_raw_events(&raw_path, &columns).unwrap();
        assert!(raw.skipped.is_empty(), "{:?}", raw.skipped);
        assert_eq!(raw.subjects.len(), csv.subjects.len());
        assert_eq!(raw.feature_names.len(), csv.feature_names.len());
        assert_eq!(raw.feature_names[3], "H.numpad_1");
        for (r, c) in raw.subjects.iter().zip(&csv.subjects) {
            assert_eq!(r.samples_ms.dim(), c.samples_ms.dim(), "{}", c.id);
            let worst = (&r.samples_ms - &c.samples_ms)
                .iter()
                .fold(0.0_f64, |m, d| m.max(d.abs()));
            assert!(worst <= 0.05 + 1e-9, "{}: {worst} ms", c.id);
        }
    }
}
