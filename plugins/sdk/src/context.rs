//! Helpers on the call context.

use serde::de::DeserializeOwned;

use crate::{Context, Error};

impl Context {
    /// Parses the product's `[product.config]` (JSON) into `T`.
    ///
    /// A config that does not parse is a non-retryable error: it will not fix itself, and the
    /// message names the problem so the operator can correct the bot file. An empty config is
    /// read as `{}`, so a struct whose fields all have defaults still parses.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let raw = if self.config.trim().is_empty() {
            "{}"
        } else {
            self.config.as_str()
        };
        serde_json::from_str(raw).map_err(|e| config_error(e.to_string()))
    }

    /// A deterministic generator seeded with [`Context::seed`]; see [`crate::Seed`].
    pub fn rng(&self) -> crate::Seed {
        crate::Seed::new(self.seed)
    }
}

/// The error to return when a config value is present but unusable (for example, a URL that is
/// not `https://`): non-retryable, prefixed like parse errors from [`Context::config`].
pub fn config_error(detail: impl core::fmt::Display) -> Error {
    Error::fatal(format!("invalid product config: {detail}"))
}
