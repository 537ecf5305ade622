//! What each call's store holds: the memory limiter (which also records the peak, for
//! `starsgate plugin test`) and the capped log buffer behind the plugin's only import.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::bindings::{log, types};
use super::limits::{LOG_BYTES, LOG_LINES};

pub struct HostState {
    limits: StoreLimits,
    pub peak_memory: usize,
    pub logs: Vec<String>,
    log_bytes: usize,
    pub logs_dropped: usize,
}

impl HostState {
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(16)
                .tables(16)
                .memories(4)
                .trap_on_grow_failure(true)
                .build(),
            peak_memory: 0,
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
        }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl log::Host for HostState {
    /// O(1) in the plugin's favour: epochs do not interrupt host code, so this only copies what
    /// fits and drops the rest.
    fn log(&mut self, level: log::Level, message: String) {
        if self.logs.len() >= LOG_LINES || self.log_bytes + message.len() > LOG_BYTES {
            self.logs_dropped += 1;
            return;
        }
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.log_bytes += message.len();
        self.logs.push(format!("{level}: {message}"));
    }
}

impl types::Host for HostState {}
