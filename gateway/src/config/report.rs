//! What a configuration reload did, bot by bot: the operator's answer to `starsgate reload`
//! (and `GET /admin/reload`). It is a plain report of configuration changes, so the admin API
//! can serve it without knowing how the application applies them.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Problems, as `file: key: reason`; the bots they belong to were left as they were.
    pub rejected: Vec<String>,
    /// Gateway settings that changed and only take effect after a restart.
    pub needs_restart: Vec<String>,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        write!(
            f,
            "added: {}; changed: {}; removed: {}; unchanged: {}",
            list(&self.added),
            list(&self.changed),
            list(&self.removed),
            list(&self.unchanged)
        )?;
        if !self.needs_restart.is_empty() {
            write!(
                f,
                "; needs a restart to apply: {}",
                self.needs_restart.join(", ")
            )?;
        }
        for problem in &self.rejected {
            write!(f, "\nrejected: {problem}")?;
        }
        Ok(())
    }
}
