//! The budget of one plugin call. Every limit is a named constant with a test that a hostile
//! plugin hits it (`tests/blackbox/plugins.rs`); sellers can lower or raise them in `[plugins]`.

use std::time::Duration;

/// Fuel for one pre-checkout call: roughly 2-20 ms of real code; a trivial decision costs ~4k.
pub const PRE_CHECKOUT_FUEL: u64 = 20_000_000;
/// Fuel for one delivery.
pub const DELIVER_FUEL: u64 = 50_000_000;
/// Linear memory a plugin may grow to.
pub const MEMORY_BYTES: usize = 32 << 20;
/// The engine's epoch advances every tick; a call is interrupted after its deadline in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Wall-clock guard for pre-checkout (fuel normally trips first): 300 ms.
pub const PRE_CHECKOUT_TICKS: u64 = 30;
/// Wall-clock guard for deliver and refunded: 1 s.
pub const DELIVER_TICKS: u64 = 100;
/// Wasm stack for a call.
pub const STACK_BYTES: usize = 512 << 10;
/// Log lines kept per call, and bytes of log per call; the rest is dropped.
pub const LOG_LINES: usize = 50;
pub const LOG_BYTES: usize = 4096;
/// Largest component accepted.
pub const COMPONENT_BYTES: usize = 4 << 20;
/// Fuel of a call's first, quick try on the async runtime's thread (see `plugins::runner`): about
/// a millisecond of plugin code, a hundred times what a bundled plugin's hook takes (5-10k). A
/// call that needs more is run again, whole, on the blocking pool; a plugin is deterministic (it
/// gets no clock, randomness or I/O), so the second run decides exactly what the first would
/// have.
pub const QUICK_FUEL: u64 = 1_000_000;
/// Wall-clock guard of the quick try, in epoch ticks: at least one whole tick (10 ms).
pub const QUICK_TICKS: u64 = 2;
/// Instances alive at once across the process (the pooling allocator's size). Calls are bounded
/// below this by the runner's semaphore, so the pool is never exhausted.
pub const POOL_INSTANCES: u32 = 128;

/// Per-call limits as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub pre_checkout_fuel: u64,
    pub deliver_fuel: u64,
    pub memory_bytes: usize,
    pub pre_checkout_ticks: u64,
    pub deliver_ticks: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pre_checkout_fuel: PRE_CHECKOUT_FUEL,
            deliver_fuel: DELIVER_FUEL,
            memory_bytes: MEMORY_BYTES,
            pre_checkout_ticks: PRE_CHECKOUT_TICKS,
            deliver_ticks: DELIVER_TICKS,
        }
    }
}

/// Which hook a call is for; picks its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PreCheckout,
    /// Contract 0.2's price hook: asked while the buyer waits for the invoice, so it has the
    /// pre-checkout's budget.
    Quote,
    Deliver,
    Refunded,
}

impl Limits {
    /// These limits with fuel and ticks cut to the quick try's ([`QUICK_FUEL`], [`QUICK_TICKS`]).
    pub fn quick(self) -> Self {
        Self {
            pre_checkout_fuel: self.pre_checkout_fuel.min(QUICK_FUEL),
            deliver_fuel: self.deliver_fuel.min(QUICK_FUEL),
            pre_checkout_ticks: self.pre_checkout_ticks.min(QUICK_TICKS),
            deliver_ticks: self.deliver_ticks.min(QUICK_TICKS),
            ..self
        }
    }

    pub fn fuel(&self, hook: Hook) -> u64 {
        match hook {
            Hook::PreCheckout | Hook::Quote => self.pre_checkout_fuel,
            Hook::Deliver | Hook::Refunded => self.deliver_fuel,
        }
    }
    pub fn ticks(&self, hook: Hook) -> u64 {
        match hook {
            Hook::PreCheckout | Hook::Quote => self.pre_checkout_ticks,
            Hook::Deliver | Hook::Refunded => self.deliver_ticks,
        }
    }
}
