//! A configuration problem, printed as `file: key: reason` by `starsgate check`.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};

use crate::brief;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub key: String,
    pub reason: String,
}

impl Problem {
    pub fn new(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// One short line whatever the file holds: the key (which a file can spell any way) and the
/// reason are escaped and cut (see `crate::brief`).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.key.is_empty() {
            "-".to_owned()
        } else {
            brief::key(&self.key)
        };
        let file = brief::cut(&self.file.display().to_string(), brief::LINE_CHARS / 2);
        write!(f, "{file}: {key}: {}", brief::line(&self.reason))
    }
}

/// Every problem found in one pass over the configuration, so a seller fixes them all at once.
#[derive(Debug, Clone, Default, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, p: Problem) {
        self.0.push(p);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
    /// Turns a figment error (TOML syntax, a wrong type, an unknown key) into problems that name
    /// the key at fault.
    pub fn push_figment(&mut self, file: &Path, err: figment::Error) {
        for e in err {
            let mut key = e.path.join(".");
            let reason = match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    if !key.is_empty() {
                        key.push('.');
                    }
                    key.push_str(field);
                    "unknown key (check the spelling; see the configuration reference in the README)"
                        .to_owned()
                }
                figment::error::Kind::MissingField(field) => {
                    if !key.is_empty() {
                        key.push('.');
                    }
                    key.push_str(field);
                    "is required".to_owned()
                }
                other => describe(other),
            };
            self.push(Problem::new(file, key, reason));
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A figment error's kind as one short line: values it quotes are cut, a TOML parse error loses
/// the excerpt of the file it shows.
fn describe(kind: &Kind) -> String {
    let actual = |a: &Actual| match a {
        Actual::Str(s) => format!("string {}", brief::value(s)),
        Actual::Other(s) => brief::value(s),
        other => brief::line(&other.to_string()),
    };
    match kind {
        Kind::Message(m) => brief::fold(m),
        Kind::InvalidType(a, expected) => {
            format!("invalid type: found {}, expected {expected}", actual(a))
        }
        Kind::InvalidValue(a, expected) => {
            format!("invalid value: found {}, expected {expected}", actual(a))
        }
        Kind::UnknownVariant(v, expected) => format!(
            "unknown variant {}, expected one of {}",
            brief::value(v),
            expected.join(", ")
        ),
        other => brief::fold(&other.to_string()),
    }
}
