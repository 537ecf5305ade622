//! What each call's store holds: the memory limiter (which also records the peak, for
//! `starsgate plugin test`) and the capped log buffer behind the plugin's `log` import, which
//! also takes what the plugin prints to stdout and stderr (see `stdio`).

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::bindings::{v1, v2};
use super::limits::{LOG_BYTES, LOG_LINES};

pub struct HostState {
    limits: StoreLimits,
    pub peak_memory: usize,
    pub logs: Vec<String>,
    log_bytes: usize,
    pub logs_dropped: usize,
    /// What was printed to stdout and stderr since the last newline (at most `LOG_BYTES` each).
    partial: [Vec<u8>; 2],
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
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// Keeps `message` if it fits under the caps, else counts it as dropped.
    fn push(&mut self, prefix: &str, message: &str) {
        if self.logs.len() >= LOG_LINES || self.log_bytes + message.len() > LOG_BYTES {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(format!("{prefix}: {message}"));
    }

    /// Bytes the plugin wrote to stdout or stderr: every complete line becomes a log line. What
    /// does not fit the caps is dropped, so a plugin printing in a loop costs the host nothing.
    pub fn write_stream(&mut self, stream: Stream, bytes: &[u8]) {
        let slot = stream as usize;
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let room = LOG_BYTES.saturating_sub(self.partial[slot].len());
            let (line, complete) = match chunk.strip_suffix(b"\n") {
                Some(line) => (line, true),
                None => (chunk, false),
            };
            self.partial[slot].extend_from_slice(&line[..line.len().min(room)]);
            if complete {
                self.end_line(stream);
            }
        }
    }

    /// Logs what was printed without a final newline; called when the call ends.
    pub fn finish_streams(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if !self.partial[stream as usize].is_empty() {
                self.end_line(stream);
            }
        }
    }

    fn end_line(&mut self, stream: Stream) {
        let line = std::mem::take(&mut self.partial[stream as usize]);
        let text = String::from_utf8_lossy(&line);
        self.push(stream.name(), text.trim_end_matches('\r'));
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

/// The `log` import of both contract versions: same levels, same caps.
macro_rules! log_host {
    ($v:ident) => {
        impl $v::log::Host for HostState {
            /// O(1) in the plugin's favour: epochs do not interrupt host code, so this only
            /// copies what fits and drops the rest.
            fn log(&mut self, level: $v::log::Level, message: String) {
                let level = match level {
                    $v::log::Level::Debug => "debug",
                    $v::log::Level::Info => "info",
                    $v::log::Level::Warn => "warn",
                    $v::log::Level::Error => "error",
                };
                self.push(level, &message);
            }
        }

        impl $v::types::Host for HostState {}
    };
}

log_host!(v1);
log_host!(v2);

/// Which standard stream a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub const fn rep(self) -> u32 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }
    pub fn from_rep(rep: u32) -> Self {
        if rep == 2 {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}
