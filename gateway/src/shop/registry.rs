//! The stores a gateway is running right now, shared by whoever must find one by its bot id
//! (the admin API, `Running::store`) and replaced whole by a reload. A snapshot is a cheap clone
//! of the list, so no reader holds the lock while it works.

use std::sync::{Arc, RwLock};

use super::Store;

#[derive(Clone, Default)]
pub struct Registry(Arc<RwLock<Vec<Arc<Store>>>>);

impl Registry {
    pub fn new(stores: Vec<Arc<Store>>) -> Self {
        Self(Arc::new(RwLock::new(stores)))
    }

    /// The running store of `bot`, if any.
    pub fn get(&self, bot: &str) -> Option<Arc<Store>> {
        let stores = self.0.read().unwrap_or_else(|p| p.into_inner());
        stores.iter().find(|s| s.id.as_str() == bot).cloned()
    }

    /// Every running store, as of now.
    pub fn snapshot(&self) -> Vec<Arc<Store>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the running stores (after a reload).
    pub fn replace(&self, stores: Vec<Arc<Store>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = stores;
    }
}
