//! The one wasmtime engine of the process. Its pooling allocator reserves address space for every
//! slot up front, so a second engine per gateway (or per test) would multiply that reservation;
//! one engine serves every plugin of every bot. A background thread advances the epoch every
//! [`EPOCH_TICK`], which is what interrupts a plugin stuck in a loop that fuel did not catch.

use std::sync::OnceLock;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{EPOCH_TICK, MEMORY_BYTES, POOL_INSTANCES, STACK_BYTES};

/// Linear memory a freed pool slot keeps resident and resets in place (zeroed, its data segments
/// copied back); only memory beyond it is returned to the kernel. A Rust plugin's memory is its
/// shadow stack, then its data and heap: 17 pages with Rust's default 1 MiB stack, 3 for the
/// bundled plugins, which link a 128 KiB stack (`plugins/.cargo/config.toml`) so that less is
/// zeroed per call. This covers all of it: a reset is a `memset` and a copy, with no `madvise`,
/// and the next call in the slot takes no page faults. Covering only the stack left the data
/// pages to be mapped copy-on-write again per call, and each first write to one was a fault plus
/// a TLB shootdown that interrupts the other core; the README's Performance section has the
/// measurement.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;
/// Table memory a freed slot keeps resident.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;

fn config() -> Config {
    let mut cfg = Config::new();
    cfg.consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(STACK_BYTES)
        .wasm_relaxed_simd(false)
        .cranelift_nan_canonicalization(true);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .max_memory_size(MEMORY_BYTES.max(64 << 20))
        // A freed slot's first pages are zeroed in place instead of returned to the kernel: the
        // next call into the slot then takes no page faults on them, and no `madvise` (whose TLB
        // shootdown interrupts the other core) runs per call.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES);
    // Not `pagemap_scan`: resetting only the pages `PAGEMAP_SCAN` reports as written and present
    // measured about a tenth of the gateway's CPU less on the load bench, but in wasmtime 48 a
    // written page the kernel has swapped out is neither reset nor decommitted, so the next call
    // in the slot could read what the last one wrote (wasmtime PR #14357). Isolation comes first.
    pool.pagemap_scan(wasmtime::Enabled::No);
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    cfg
}

/// The process-wide engine, created on first use; `Err` if the machine refuses the pool's
/// address-space reservation.
pub fn engine() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let engine = Engine::new(&config())
                .map_err(|e| format!("cannot create the WebAssembly engine: {e}"))?;
            let ticker = engine.weak();
            let spawned = std::thread::Builder::new()
                .name("starsgate-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticker.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                });
            spawned.map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A short hex digest of everything that makes a compiled artifact loadable by this engine
/// (wasmtime version and configuration): part of the compile cache's key.
pub fn compatibility_key(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}
