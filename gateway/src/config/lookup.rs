//! How secrets named by the configuration are looked up. Under [`SecretCheck::IfSet`] a missing
//! secret is not a problem but is noted as unchecked, so `check --without-secrets` can say what it
//! could not verify; every step that reads a secret goes through one [`Lookup`] so none is missed.

use super::{SecretCheck, Secrets};

/// The secret source, the policy for missing secrets, and what went unchecked so far.
pub(super) struct Lookup<'s, 'a> {
    secrets: &'s Secrets<'a>,
    policy: SecretCheck,
    pub(super) unchecked: Vec<String>,
}

impl<'s, 'a> Lookup<'s, 'a> {
    pub(super) fn new(secrets: &'s Secrets<'a>, policy: SecretCheck) -> Self {
        Self {
            secrets,
            policy,
            unchecked: Vec::new(),
        }
    }

    /// The secret in `var`; when it is missing and not required, notes `what` as unchecked.
    pub(super) fn get(&mut self, var: &str, what: &str) -> Option<String> {
        let value = (self.secrets)(var);
        if value.is_none() && self.policy == SecretCheck::IfSet {
            self.unchecked.push(format!("${var} is not set: {what}"));
        }
        value
    }

    /// The secret in `var`, for an optional secret whose absence is never noted.
    pub(super) fn optional(&self, var: &str) -> Option<String> {
        (self.secrets)(var)
    }

    pub(super) fn required(&self) -> bool {
        self.policy == SecretCheck::Required
    }
}
