//! Plugin host benchmarks: one pre-checkout call including a fresh store and instantiation (what
//! every checkout pays), one delivery, and a restart's load of 20 distinct plugins from a warm
//! compile cache. Run with `cargo bench -p starsgate --bench plugins`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use starsgate::plugins::bundled::BUILD_DIR;
use starsgate::plugins::wasm::{Limits, PluginHost};
use starsgate::plugins::{CallContext, Facts, OrderView, PaymentView, Plugin};

fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(BUILD_DIR).join(format!("{name}.wasm")))
        .expect("built plugins")
}

fn ctx() -> CallContext {
    CallContext {
        config: r#"{"prefix":"GAME","max_per_buyer":3}"#.into(),
        now_unix: 1_780_000_000,
        seed: 42,
        facts: Facts {
            buyer_purchases: 1,
            units_sold: 10,
        },
    }
}

fn order() -> OrderView {
    OrderView {
        order_id: "abcdefghijabcdefghij".into(),
        bot_id: "games".into(),
        product_id: "starter-pack".into(),
        amount: 25,
        currency: "XTR".into(),
        user_id: 5001,
        language_code: Some("en".into()),
    }
}

fn payment() -> PaymentView {
    PaymentView {
        charge_id: "stxbench".into(),
        paid_at_unix: 1_780_000_000,
        amount: 25,
        is_renewal: false,
        expires_at_unix: None,
    }
}

/// A distinct but equivalent component: a custom section appended changes the bytes (and so the
/// content hash) without changing behaviour.
fn variant(bytes: &[u8], i: u32) -> Vec<u8> {
    let name = b"starsgate-bench";
    let payload = i.to_le_bytes();
    let body_len = 1 + name.len() + payload.len();
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(body_len as u8); // fits one LEB128 byte
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn calls(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temp dir");
    let host = PluginHost::new(cache.path(), Limits::default()).expect("engine");
    let plugin = host.load(&wasm("license_key")).expect("load");
    let (ctx, order, payment) = (ctx(), order(), payment());
    assert!(plugin.pre_checkout(&ctx, &order).result.is_ok());
    c.bench_function("pre-checkout call (new store + instantiate + call)", |b| {
        b.iter(|| black_box(plugin.pre_checkout(black_box(&ctx), black_box(&order))))
    });
    c.bench_function("deliver call (new store + instantiate + call)", |b| {
        b.iter(|| {
            black_box(plugin.deliver(black_box(&ctx), black_box(&order), black_box(&payment)))
        })
    });
}

fn warm_restart(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temp dir");
    let base = wasm("license_key");
    let variants: Vec<Vec<u8>> = (0..20).map(|i| variant(&base, i)).collect();
    let first = PluginHost::new(cache.path(), Limits::default()).expect("engine");
    for v in &variants {
        assert!(!first.load(v).expect("compile").from_cache);
    }
    let mut group = c.benchmark_group("restart");
    group.sample_size(20);
    group.bench_function("load 20 plugins from a warm compile cache", |b| {
        b.iter(|| {
            // A fresh host has nothing in memory, as after a restart.
            let host = PluginHost::new(cache.path(), Limits::default()).expect("engine");
            for v in &variants {
                let p = host.load(v).expect("load");
                assert!(p.from_cache);
                black_box(p);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, calls, warm_restart);
criterion_main!(benches);
