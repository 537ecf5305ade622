//! `hostile`: misbehaves on purpose, for the gateway's containment tests. Never ship it.
//!
//! Config: `{ "mode": "<mode>" }`. The mode applies to pre-checkout, deliver and refunded:
//!
//! | mode          | pre-checkout                    | deliver                        | refunded |
//! |---------------|---------------------------------|--------------------------------|----------|
//! | `ok`          | approve                         | one text `ok`                  | Ok       |
//! | `loop`        | spins forever                   | spins forever                  | same     |
//! | `memory`      | allocates and touches 1 GiB     | same                           | same     |
//! | `panic`       | panics (a trap)                 | same                           | same     |
//! | `recursion`   | unbounded non-tail recursion    | same                           | same     |
//! | `huge-output` | reject with 100 000 characters  | one 10 MiB text item           | Ok       |
//! | `many-items`  | like `huge-output`              | 100 000 empty text items       | Ok       |
//! | `bad-reject`  | reject with an empty message    | a link to `http://` (not https)| Ok       |
//! | `error`       | plugin-error, retryable false   | same                           | same     |
//! | `retryable`   | plugin-error, retryable true    | same                           | same     |
//! | `logs`        | 1000 log lines of 1 KiB, approve| same, then text `ok`           | same, Ok |
//! | `print`       | prints 2 lines, then 1000 more, approve | same, then text `ok` | same, Ok |
//! | `remember`    | approve if its memory is as loaded, else reject saying what an earlier call left | same, text `ok` | same |
//!
//! Any other mode (or a config without one) is a non-retryable plugin-error.
//!
//! An optional `"at": "deliver"` (or `"pre-checkout"`, `"refunded"`) confines the misbehaviour
//! to that hook; the others behave as `ok`. It lets a test get past the checkout and fail the
//! delivery of a paid order.
//!
//! Each mode is shaped to hit one limit and not another: `memory` reserves blocks without
//! zero-filling them (so it reaches the memory cap, not the fuel budget), `recursion` keeps its
//! frames in scalars (so it overflows the engine's stack, not the shadow stack in linear
//! memory), `many-items` uses empty strings (so building 100 000 items stays within fuel and
//! the gateway's item-count check is what fails).

use core::hint::black_box;

use serde::Deserialize;
use starsgate_plugin::prelude::*;

#[derive(Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    at: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Hook {
    PreCheckout,
    Deliver,
    Refunded,
}

/// What a well-behaved call returns, if the mode lets it return at all.
enum Outcome {
    Ok,
    Reject(String),
    Items(Vec<Item>),
}

fn run(ctx: &Context, hook: Hook) -> Result<Outcome, Error> {
    let config: Config = ctx.config()?;
    let here = match hook {
        Hook::PreCheckout => "pre-checkout",
        Hook::Deliver => "deliver",
        Hook::Refunded => "refunded",
    };
    let mode = match config.at.as_deref() {
        Some(at) if at != here => "ok",
        _ => config.mode.as_str(),
    };
    match mode {
        "ok" => Ok(Outcome::Ok),
        "loop" => spin(),
        "memory" => {
            hog_memory();
            Ok(Outcome::Ok)
        }
        "panic" => panic!("hostile plugin: panic mode"),
        "recursion" => Ok(Outcome::Reject(recurse(0).to_string())),
        "huge-output" | "many-items" if hook == Hook::PreCheckout => {
            Ok(Outcome::Reject("x".repeat(100_000)))
        }
        "huge-output" => Ok(Outcome::Items(vec![Item::Text("x".repeat(10 << 20))])),
        "many-items" => Ok(Outcome::Items(vec![Item::Text(String::new()); 100_000])),
        "bad-reject" if hook == Hook::PreCheckout => Ok(Outcome::Reject(String::new())),
        "bad-reject" => Ok(Outcome::Items(vec![Item::Link(Link {
            url: "http://example.com/not-https".into(),
            label: None,
        })])),
        "error" => Err(Error::fatal("hostile plugin: error mode")),
        "retryable" => Err(Error::retry("hostile plugin: retryable mode")),
        "logs" => {
            let line = "L".repeat(1024);
            for _ in 0..1000 {
                log::info(&line);
            }
            Ok(Outcome::Ok)
        }
        "print" => {
            // What a new author writes first: the gateway sends it to the log, capped.
            println!("hello from {here}");
            eprint!("to stderr ");
            eprintln!("without the SDK");
            for n in 0..1000 {
                println!("line {n} {}", "P".repeat(100));
            }
            Ok(Outcome::Ok)
        }
        "remember" => match leftovers() {
            None => Ok(Outcome::Ok),
            Some(left) => Ok(Outcome::Reject(left)),
        },
        other => Err(Error::fatal(format!(
            "hostile plugin: unknown mode {other:?}"
        ))),
    }
}

/// An infinite loop the optimizer cannot prove side-effect free.
fn spin() -> ! {
    let mut i = 0u64;
    loop {
        i = black_box(i).wrapping_add(1);
    }
}

/// Allocates 1 GiB in 1 MiB blocks, writing one byte per 4 KiB page and keeping every block
/// alive. The blocks are reserved, not zero-filled, so the call reaches the memory cap long
/// before it could run out of fuel.
fn hog_memory() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for n in 0..1024u32 {
        let mut block: Vec<u8> = Vec::with_capacity(1 << 20);
        for page in block.spare_capacity_mut().iter_mut().step_by(4096) {
            page.write(n as u8);
        }
        blocks.push(black_box(block));
    }
    black_box(&blocks);
}

/// Recursion without a reachable base case. The addition after the call keeps it from being a
/// tail call; the frame holds only scalars, so it exhausts the engine's native wasm stack
/// (a stack-overflow trap) rather than the shadow stack in linear memory.
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = recurse(depth + 1);
    below.wrapping_mul(31).wrapping_add(black_box(depth))
}

struct Hostile;

impl Plugin for Hostile {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        Ok(match run(ctx, Hook::PreCheckout)? {
            Outcome::Reject(message) => Decision::Reject(message),
            Outcome::Ok | Outcome::Items(_) => Decision::Approve,
        })
    }

    fn deliver(ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        Ok(match run(ctx, Hook::Deliver)? {
            Outcome::Items(items) => Delivery { items },
            Outcome::Ok | Outcome::Reject(_) => Delivery::text("ok"),
        })
    }

    fn refunded(ctx: &Context, _order: &Order, _payment: &Payment) -> Result<(), Error> {
        run(ctx, Hook::Refunded).map(|_| ())
    }
}

export_plugin!(Hostile);

/// What an earlier call left in this instance's memory, if anything: a zeroed static, a static
/// with an initial value, and 64 KiB of zeroed statics, each written on every call. The host gives
/// each call a fresh instance from a pooled slot, so a second call must find them all as loaded.
fn leftovers() -> Option<String> {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    static ZEROED: AtomicU32 = AtomicU32::new(0);
    static INITIAL: AtomicU32 = AtomicU32::new(7);
    static BLOCK: [AtomicU32; 16 << 10] = [const { AtomicU32::new(0) }; 16 << 10];
    let zeroed = ZEROED.swap(1, Relaxed);
    let initial = INITIAL.swap(8, Relaxed);
    let block = BLOCK.iter().map(|w| w.swap(0xA5A5_A5A5, Relaxed)).filter(|&w| w != 0).count();
    (zeroed != 0 || initial != 7 || block != 0).then(|| {
        format!(
            "memory from an earlier call: zeroed static {zeroed}, initial static {initial}, \
             {block} words of a zeroed block written"
        )
    })
}
