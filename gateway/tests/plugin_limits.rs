//! Every limit of the plugin host (`plugins/wasm/limits.rs`) against a hostile plugin built by
//! this workspace: each is contained with the right failure, and the host serves the next call.

use std::sync::Arc;

use starsgate::plugins::bundled::BUILD_DIR;
use starsgate::plugins::wasm::limits::{self, Limits};
use starsgate::plugins::wasm::{LoadError, PluginHost, WasmPlugin};
use starsgate::plugins::{
    Breaker, CallContext, Decision, Facts, OrderView, PaymentView, Plugin, PluginError, Runner,
    RunnerLimits,
};

fn wasm(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(BUILD_DIR).join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (built by gateway/build.rs)", path.display()))
}

fn host(limits: Limits) -> (Arc<PluginHost>, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (PluginHost::new(cache.path(), limits).unwrap(), cache)
}

fn hostile(host: &PluginHost) -> Arc<WasmPlugin> {
    host.load(&wasm("hostile"))
        .expect("the hostile plugin loads: its danger is at run time")
}

fn ctx(mode: &str) -> CallContext {
    CallContext {
        config: format!(r#"{{"mode":"{mode}"}}"#),
        now_unix: 1_780_000_000,
        seed: 7,
        facts: Facts::default(),
    }
}

fn order() -> OrderView {
    OrderView {
        order_id: "abcdefghijabcdefghij".into(),
        bot_id: "arena".into(),
        product_id: "p".into(),
        amount: 5,
        currency: "XTR".into(),
        user_id: 1,
        language_code: None,
    }
}

fn payment() -> PaymentView {
    PaymentView {
        charge_id: "stx-1".into(),
        paid_at_unix: 1_780_000_000,
        amount: 5,
        is_renewal: false,
        expires_at_unix: None,
    }
}

/// After any failure the same plugin still answers a well-behaved call.
fn still_serves(plugin: &WasmPlugin) {
    assert_eq!(
        plugin.pre_checkout(&ctx("ok"), &order()).result,
        Ok(Decision::Approve)
    );
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("loop"), &order());
    match call.result {
        Err(PluginError::Trap(msg)) => {
            assert!(msg.contains("ran out of fuel"), "{msg}");
            // The component keeps its names (strip = "debuginfo"): the trap says where.
            assert!(msg.ends_with("in hostile::spin"), "{msg}");
        }
        other => panic!("expected out of fuel, got {other:?}"),
    }
    assert_eq!(
        call.fuel_used,
        limits::PRE_CHECKOUT_FUEL,
        "the whole budget and no more"
    );
    still_serves(&p);
}

#[test]
fn an_infinite_loop_with_unlimited_fuel_is_stopped_by_the_epoch_deadline() {
    let (host, _c) = host(Limits {
        pre_checkout_fuel: u64::MAX / 4,
        pre_checkout_ticks: 5,
        ..Limits::default()
    });
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("loop"), &order());
    assert!(
        matches!(call.result, Err(PluginError::Timeout(50))),
        "{:?}",
        call.result
    );
    // Timeout (not OutOfFuel) shows the epoch deadline, not fuel, ended the loop.
    still_serves(&p);
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    // Fuel also meters bulk memory operations and usually stops a bomb first; with fuel to
    // spare, the memory cap is what stops it.
    let (host, _c) = host(Limits {
        pre_checkout_fuel: 5_000_000_000,
        ..Limits::default()
    });
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("memory"), &order());
    match call.result {
        Err(PluginError::Trap(msg)) => assert!(msg.contains("memory limit of 32 MiB"), "{msg}"),
        other => panic!("expected the memory cap, got {other:?}"),
    }
    assert!(
        call.peak_memory <= limits::MEMORY_BYTES,
        "peak {} within the cap",
        call.peak_memory
    );
    still_serves(&p);
}

#[test]
fn deep_recursion_is_stopped_by_a_stack_limit() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let call = p.deliver(&ctx("recursion"), &order(), &payment());
    // Rust keeps a shadow stack in linear memory (1 MiB) beside the wasm stack (512 KiB here);
    // whichever runs out first ends the call: a stack overflow or an access below memory.
    match call.result {
        Err(PluginError::Trap(msg)) => {
            assert!(
                msg.starts_with("stack overflow") || msg.contains("out of bounds memory access"),
                "{msg}"
            )
        }
        other => panic!("expected a stack trap, got {other:?}"),
    }
    still_serves(&p);
}

#[test]
fn a_panic_is_a_trap_not_a_crash() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("panic"), &order());
    assert!(
        matches!(call.result, Err(PluginError::Trap(_))),
        "{:?}",
        call.result
    );
    still_serves(&p);
}

#[test]
fn plugin_errors_keep_their_retryable_flag() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let fatal = p
        .deliver(&ctx("error"), &order(), &payment())
        .result
        .unwrap_err();
    let retry = p
        .deliver(&ctx("retryable"), &order(), &payment())
        .result
        .unwrap_err();
    assert!(
        !fatal.is_transient() && retry.is_transient(),
        "{fatal:?} / {retry:?}"
    );
}

#[test]
fn logs_are_capped_per_call() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("logs"), &order());
    assert_eq!(call.result, Ok(Decision::Approve));
    assert!(
        call.logs.len() <= limits::LOG_LINES,
        "{} lines",
        call.logs.len()
    );
    let bytes: usize = call.logs.iter().map(String::len).sum();
    assert!(
        bytes <= limits::LOG_BYTES + limits::LOG_LINES * 8,
        "{bytes} bytes"
    );
}

#[test]
fn what_a_plugin_prints_goes_to_its_log_capped() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    for hook in ["pre-checkout", "deliver"] {
        let config = format!(r#"{{"mode":"print","at":"{hook}"}}"#);
        let ctx = CallContext {
            config,
            ..ctx("print")
        };
        let (ok, logs) = if hook == "deliver" {
            let call = p.deliver(&ctx, &order(), &payment());
            (call.result.is_ok(), call.logs)
        } else {
            let call = p.pre_checkout(&ctx, &order());
            (call.result == Ok(Decision::Approve), call.logs)
        };
        assert!(ok, "{hook}: println! does not trap");
        assert_eq!(logs[0], format!("stdout: hello from {hook}"));
        assert_eq!(logs[1], "stderr: to stderr without the SDK");
        assert!(logs[2].starts_with("stdout: line 0 PPP"), "{}", logs[2]);
        assert!(logs.len() <= limits::LOG_LINES, "{} lines", logs.len());
        let bytes: usize = logs.iter().map(String::len).sum();
        assert!(
            bytes <= limits::LOG_BYTES + limits::LOG_LINES * 8,
            "{bytes} bytes"
        );
    }
    still_serves(&p);
}

#[test]
fn oversized_output_is_returned_to_the_host_and_rejected_by_validation() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let call = p.pre_checkout(&ctx("huge-output"), &order());
    let Ok(Decision::Reject(msg)) = call.result else {
        panic!("expected a (too long) rejection: {:?}", call.result)
    };
    assert!(starsgate::plugins::validate_reject_message(&msg).is_err());
}

#[test]
fn forbidden_capabilities_are_refused_at_load() {
    let (host, _c) = host(Limits::default());
    for (name, capability) in [
        ("forbidden_fs", "wasi:filesystem/"),
        ("forbidden_net", "wasi:sockets/"),
        ("forbidden_clock", "wasi:clocks/"),
    ] {
        match host.load(&wasm(name)) {
            Err(LoadError::ForbiddenImport { import, why }) => {
                assert!(
                    import.contains(capability),
                    "{name}: refused {import} ({why})"
                );
            }
            Err(other) => panic!("{name}: expected a forbidden import, got {other}"),
            Ok(_) => panic!("{name} must be refused at load"),
        }
    }
}

#[test]
fn a_component_over_the_size_limit_is_refused() {
    let (host, _c) = host(Limits::default());
    let mut bytes = wasm("static_link");
    bytes.resize(limits::COMPONENT_BYTES + 1, 0);
    assert!(matches!(host.load(&bytes), Err(LoadError::TooLarge(_))));
}

#[test]
fn a_core_module_or_garbage_is_not_a_component() {
    let (host, _c) = host(Limits::default());
    assert_eq!(
        host.load(b"\0asm\x01\0\0\0").err(),
        Some(LoadError::NotAComponent)
    );
    assert_eq!(host.load(b"hello").err(), Some(LoadError::NotAComponent));
}

#[test]
fn a_restart_loads_plugins_from_the_compile_cache() {
    let cache = tempfile::tempdir().unwrap();
    let first = PluginHost::new(cache.path(), Limits::default()).unwrap();
    assert!(
        !first.load(&wasm("license_key")).unwrap().from_cache,
        "compiled the first time"
    );
    // A new host is what a restarted process has: nothing in memory, the cache on disk.
    let second = PluginHost::new(cache.path(), Limits::default()).unwrap();
    let p = second.load(&wasm("license_key")).unwrap();
    assert!(p.from_cache, "loaded from the cache, not compiled");
    let mut c = ctx("x");
    c.config = r#"{"prefix":"K","max_per_buyer":1}"#.into();
    assert_eq!(p.pre_checkout(&c, &order()).result, Ok(Decision::Approve));
}

#[test]
fn calls_are_deterministic_for_the_same_seed() {
    let (host, _c) = host(Limits::default());
    let p = host.load(&wasm("license_key")).unwrap();
    let mut c = ctx("x");
    c.config = r#"{"prefix":"K","max_per_buyer":3}"#.into();
    let a = p.deliver(&c, &order(), &payment()).result.unwrap();
    let b = p.deliver(&c, &order(), &payment()).result.unwrap();
    assert_eq!(a, b);
    c.seed += 1;
    assert_ne!(a, p.deliver(&c, &order(), &payment()).result.unwrap());
}

/// Pooled slots keep their first pages resident between calls (`plugins/wasm/engine.rs`), zeroed
/// in place: a call must still find the memory as the module loaded it, never what the previous
/// call on the same slot wrote.
#[test]
fn a_call_never_sees_memory_an_earlier_call_wrote() {
    let (host, _c) = host(Limits::default());
    let plugin = hostile(&host);
    for call in 1..=5 {
        assert_eq!(
            plugin.pre_checkout(&ctx("remember"), &order()).result,
            Ok(Decision::Approve),
            "call {call}"
        );
    }
}

/// A call first runs on the runtime's thread under `QUICK_FUEL`; one that needs more is run
/// again on the pool with its whole budget, and only that run's outcome counts.
#[tokio::test]
async fn a_call_past_the_quick_slice_runs_again_with_its_whole_budget() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let quick = p.quick().expect("a WebAssembly plugin has a quick form");
    let cut = quick.pre_checkout(&ctx("loop"), &order());
    assert!(cut.unfinished, "{:?}", cut.result);
    assert_eq!(cut.fuel_used, limits::QUICK_FUEL, "the slice and no more");

    let runner = Runner::new(RunnerLimits::default());
    let whole = runner
        .pre_checkout(p.clone(), &Breaker::default(), ctx("loop"), order())
        .await;
    assert!(!whole.unfinished);
    assert_eq!(
        whole.fuel_used,
        limits::PRE_CHECKOUT_FUEL,
        "the whole budget, spent on the pool"
    );
    match whole.result {
        Err(PluginError::Trap(msg)) => assert!(msg.contains("ran out of fuel"), "{msg}"),
        other => panic!("expected out of fuel, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_within_the_quick_slice_is_answered_by_it() {
    let (host, _c) = host(Limits::default());
    let p = hostile(&host);
    let runner = Runner::new(RunnerLimits::default());
    let call = runner
        .pre_checkout(p.clone(), &Breaker::default(), ctx("ok"), order())
        .await;
    assert_eq!(call.result, Ok(Decision::Approve));
    assert!(!call.unfinished);
    assert!(
        call.fuel_used < limits::QUICK_FUEL / 10,
        "a bundled-size hook uses a sliver of the slice: {}",
        call.fuel_used
    );
}

#[test]
fn the_quick_slice_stops_a_loop_with_unlimited_fuel_at_its_own_tick_deadline() {
    let (host, _c) = host(Limits {
        pre_checkout_fuel: u64::MAX / 4,
        ..Limits::default()
    });
    let p = hostile(&host);
    let quick = p.quick().expect("a quick form");
    let call = quick.pre_checkout(&ctx("loop"), &order());
    assert!(call.unfinished, "{:?}", call.result);
}

/// The host zeroes every byte of a plugin's memory after each call, so a bundled plugin's memory
/// is kept small: its shadow stack is 128 KiB (`plugins/.cargo/config.toml`), not Rust's default
/// 1 MiB that no call touches. Fails if that link flag is lost.
#[test]
fn a_bundled_plugin_call_takes_a_small_memory() {
    let (host, _c) = host(Limits::default());
    for name in starsgate::plugins::bundled::names() {
        let bytes = starsgate::plugins::bundled::get(name).expect("a bundled plugin");
        let plugin = host.load(bytes).expect("a bundled plugin loads");
        let call = plugin.pre_checkout(&ctx("ok"), &order());
        assert!(
            call.peak_memory <= 256 << 10,
            "{name}: {} KiB of memory for one call",
            call.peak_memory >> 10
        );
    }
}
