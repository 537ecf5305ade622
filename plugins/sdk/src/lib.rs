//! # starsgate-plugin: write a starsgate product plugin in Rust
//!
//! A plugin is a WebAssembly component that the gateway runs, sandboxed, for one product. It
//! answers three questions, each in one call:
//!
//! * [`Plugin::pre_checkout`]: may this order be paid? ([`Decision::Approve`] or a
//!   [`Decision::Reject`] message shown to the buyer; Telegram waits for the answer.)
//! * [`Plugin::deliver`]: what does the buyer receive for this payment? (a [`Delivery`])
//! * [`Plugin::refunded`]: the revoke hook: the payment was refunded, or the membership it paid
//!   for lapsed without a renewal; revoke access if the plugin manages it.
//!
//! ```no_run
//! use starsgate_plugin::prelude::*;
//!
//! struct Guide;
//!
//! impl Plugin for Guide {
//!     fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
//!         Ok(Decision::Approve)
//!     }
//!     fn deliver(ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
//!         let code = Seed::new(ctx.seed).code(8);
//!         Ok(Delivery::text(format!("Your code: {code}")).link("https://example.com/guide", "Open"))
//!     }
//! }
//!
//! export_plugin!(Guide);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the crate must be
//! `crate-type = ["cdylib"]`.
//!
//! This is contract 0.1.0. A plugin that also prices orders (the `quote` hook of contract
//! 0.2.0) uses [`v0_2`] instead: the same hooks plus `quote`, exported with
//! `export_plugin_v0_2!`. The gateway runs 0.1 and 0.2 plugins side by side.
//!
//! ## The rules
//!
//! * **Everything arrives in the call.** The product's config ([`Context::config`]), the time
//!   ([`Context::now_unix`]), a secret seed ([`Context::seed`]) and ledger facts
//!   ([`Context::facts`]). A plugin has no files, network, clock or randomness: the gateway
//!   links none of them and a call that tries traps. So the same input always gives the same
//!   output, and every call can be replayed in a fixture test.
//! * **No state between calls.** Each call runs in a fresh instance; use [`Facts`] (purchase
//!   counts from the ledger) instead of counters, and [`Seed`] instead of a random generator.
//! * **Deterministic delivery.** A retried delivery gets the same seed, so derive keys and codes
//!   from it: the buyer never receives two different keys for one payment.
//! * **Output limits** (checked by the gateway, see [`limits`]): a reject message is 1-200
//!   printable characters; a delivery has 1-10 items; a text item is 1-4096 characters; a link is
//!   `https://` and at most 2048 bytes. Violating them counts as a plugin failure.
//! * **Errors.** Return [`Error::fatal`] for problems that will recur with the same input (bad
//!   config), [`Error::retry`] for ones that may not. A panic traps (its message goes to the
//!   log) and counts as a plugin failure, so return errors instead of unwrapping input.
//! * **Budget.** Calls are limited in fuel (instructions), memory and time; keep work small.
//! * **Logs** ([`log`]) are capped by the host at 50 lines and 4 KiB per call.

mod context;
pub mod limits;
pub mod log;
mod output;
mod seed;
pub mod testing;
pub mod v0_2;

pub use context::config_error;
pub use seed::{CODE_ALPHABET, Seed};

/// Bindings generated from `plugins/sdk/wit/plugin.wit` (the contract). Authors normally use the
/// re-exports in [`prelude`] instead.
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        // The export macro must be usable from the author's crate, which does not depend on
        // wit-bindgen: make it public and point every path it expands to at this crate.
        pub_export_macro: true,
        export_macro_name: "__export_plugin_bindings",
        default_bindings_module: "starsgate_plugin::bindings",
        runtime_path: "starsgate_plugin::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

// Lets the generated code name this crate as `starsgate_plugin` from inside it as well.
extern crate self as starsgate_plugin;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

pub use bindings::exports::starsgate::plugin::handler::Guest as __Guest;
pub use bindings::starsgate::plugin::types::{
    Buyer, Context, Decision, Delivery, Facts, Item, Link, Order, Payment,
};

/// A plugin failure: `message` is for the logs (not shown to buyers); `retryable` tells the
/// gateway whether trying again later with the same input could succeed.
pub type Error = bindings::starsgate::plugin::types::PluginError;

/// Implement this for a unit struct and pass it to [`export_plugin!`].
///
/// The functions take no `self`: a plugin has no state between calls.
pub trait Plugin {
    /// May this order be paid? Called while Telegram waits (10 s in all, shared with the
    /// gateway), so keep it quick. `ctx.facts` counts this buyer's and everyone's paid
    /// purchases so far; `ctx.seed` is stable for this order.
    fn pre_checkout(ctx: &Context, order: &Order) -> Result<Decision, Error>;

    /// What the buyer receives for this payment. Called once per payment; the gateway stores
    /// the result and re-sends it on retries. `ctx.facts` counts purchases made before this
    /// one; `ctx.seed` is stable for this payment.
    fn deliver(ctx: &Context, order: &Order, payment: &Payment) -> Result<Delivery, Error>;

    /// The revoke hook: the payment was refunded, or (for a subscription) the membership lapsed
    /// without a renewal and `payment` is its latest charge. Override it to revoke access the
    /// plugin manages (and log what was revoked); the default does nothing. Runs once per ending.
    fn refunded(ctx: &Context, order: &Order, payment: &Payment) -> Result<(), Error> {
        let _ = (ctx, order, payment);
        Ok(())
    }
}

impl<P: Plugin> __Guest for P {
    fn pre_checkout(ctx: Context, order: Order) -> Result<Decision, Error> {
        log_panics();
        <P as Plugin>::pre_checkout(&ctx, &order)
    }
    fn deliver(ctx: Context, order: Order, payment: Payment) -> Result<Delivery, Error> {
        log_panics();
        <P as Plugin>::deliver(&ctx, &order, &payment)
    }
    fn refunded(ctx: Context, order: Order, payment: Payment) -> Result<(), Error> {
        log_panics();
        <P as Plugin>::refunded(&ctx, &order, &payment)
    }
}

/// Sends a panic's message and location to the host log before the instance aborts (a trap).
/// Without it the message is lost: stderr goes nowhere, and std's default hook would first
/// read `RUST_BACKTRACE` through a WASI import the gateway does not provide.
fn log_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| log::error(&format!("plugin {info}"))));
    });
}

/// Exports a type implementing [`Plugin`] as the component's `handler`. Use it once, at the
/// crate root: `export_plugin!(MyPlugin);`
#[macro_export]
macro_rules! export_plugin {
    ($ty:ident) => {
        $crate::bindings::__export_plugin_bindings!($ty with_types_in $crate::bindings);
    };
}

/// Everything a plugin usually needs: `use starsgate_plugin::prelude::*;`
pub mod prelude {
    pub use crate::{
        Buyer, Context, Decision, Delivery, Error, Facts, Item, Link, Order, Payment, Plugin, Seed,
        export_plugin, log,
    };
}
