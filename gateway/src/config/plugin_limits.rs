//! `[plugins]` in `gateway.toml`: where compiled plugins are cached, and the limits of every
//! plugin call. Each limit has a range that keeps a plugin inside the 10-second pre-checkout
//! deadline Telegram gives, whatever the seller sets.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawPlugins;
use super::{PluginLimitsConfig, PluginsConfig};

/// `[plugins]`: the cache directory, and limits each within a range that keeps the 10-second
/// pre-checkout deadline safe.
pub(super) fn plugins(raw: RawPlugins, problem: &mut impl FnMut(&str, String)) -> PluginsConfig {
    use crate::plugins::wasm::limits as l;
    let mut check = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
        if !range.contains(&value) {
            problem(
                &format!("plugins.{key}"),
                format!("must be {}-{}, got {value}", range.start(), range.end()),
            );
        }
    };
    check(
        "pre_checkout_fuel",
        raw.pre_checkout_fuel,
        100_000..=1_000_000_000,
    );
    check("deliver_fuel", raw.deliver_fuel, 100_000..=5_000_000_000);
    check("memory_mib", raw.memory_mib, 1..=64);
    check(
        "pre_checkout_timeout_ms",
        raw.pre_checkout_timeout_ms,
        50..=5000,
    );
    check("deliver_timeout_ms", raw.deliver_timeout_ms, 50..=60_000);
    check(
        "concurrency",
        raw.concurrency,
        1..=(l::POOL_INSTANCES as u64 / 2),
    );
    let ticks = |ms: u64| (ms / l::EPOCH_TICK.as_millis() as u64).max(1);
    let limits = PluginLimitsConfig {
        limits: crate::plugins::wasm::Limits {
            pre_checkout_fuel: raw.pre_checkout_fuel,
            deliver_fuel: raw.deliver_fuel,
            memory_bytes: (raw.memory_mib.min(64) as usize) << 20,
            // The wall-clock guard inside the plugin is a fifth of the caller's deadline, so
            // the plugin is interrupted long before the caller gives up on it.
            pre_checkout_ticks: ticks(raw.pre_checkout_timeout_ms / 5),
            deliver_ticks: ticks(raw.deliver_timeout_ms / 5),
        },
        runner: crate::plugins::RunnerLimits {
            concurrency: raw.concurrency.max(1) as usize,
            pre_checkout_deadline: Duration::from_millis(raw.pre_checkout_timeout_ms),
            deliver_deadline: Duration::from_millis(raw.deliver_timeout_ms),
        },
    };
    PluginsConfig {
        cache_dir: PathBuf::from(raw.cache_dir),
        limits,
    }
}
