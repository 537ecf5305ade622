//! # Contract 0.2.0: plugins that also price orders
//!
//! The same three hooks as 0.1 ([`Plugin::pre_checkout`], [`Plugin::deliver`],
//! [`Plugin::refunded`]) plus [`Plugin::quote`]: called when a buyer asks for an invoice, it
//! returns the price of this order ([`QuoteAnswer::Price`]), keeps the list price or the promo
//! code's price ([`QuoteAnswer::Keep`], the default), or refuses the sale
//! ([`QuoteAnswer::Refuse`]). The price is stored on the order, so pre-checkout and delivery see
//! it as `order.amount`.
//!
//! ```no_run
//! use starsgate_plugin::v0_2::prelude::*;
//!
//! struct Launch;
//!
//! impl Plugin for Launch {
//!     fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
//!         Ok(Decision::Approve)
//!     }
//!     fn deliver(_ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
//!         Ok(Delivery::text("Thanks!"))
//!     }
//!     fn quote(ctx: &Context, _order: &Order, _req: &QuoteRequest) -> Result<QuoteAnswer, Error> {
//!         Ok(if ctx.facts.units_sold < 100 {
//!             QuoteAnswer::price(10, "Launch price")
//!         } else {
//!             QuoteAnswer::Keep
//!         })
//!     }
//! }
//!
//! export_plugin_v0_2!(Launch);
//! ```
//!
//! The rules of the crate root apply unchanged. The quote has the pre-checkout's budget; its
//! price must be 1-25,000 Stars (1-10,000 for a subscription, whose every renewal is charged
//! it) with a 1-64 character label. A trap, a timeout or an invalid price refuses the invoice
//! with the gateway's generic message. Every component built with this module exports `quote`,
//! so the gateway asks it on every invoice: keep it as cheap as `pre_checkout`.

/// Bindings generated from `plugins/sdk/wit-0.2/plugin.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        world: "quoting-plugin",
        path: "wit-0.2",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_v0_2_bindings",
        default_bindings_module: "starsgate_plugin::v0_2::bindings",
        runtime_path: "starsgate_plugin::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

use bindings::exports::starsgate::plugin::{handler, pricing};
pub use bindings::starsgate::plugin::types::{
    Buyer, Context, Decision, Delivery, Facts, Item, Link, Media, MediaKind, Order, Payment, Price,
    Promo, QuoteAnswer, QuoteRequest,
};

/// A plugin failure, as in 0.1: `message` is for the logs, `retryable` for the gateway.
pub type Error = bindings::starsgate::plugin::types::PluginError;

/// Implement this for a unit struct and pass it to [`export_plugin_v0_2!`](crate::export_plugin_v0_2).
pub trait Plugin {
    /// May this order be paid? `order.amount` is the price the order was sold at.
    fn pre_checkout(ctx: &Context, order: &Order) -> Result<Decision, Error>;

    /// What the buyer receives for this payment (stored once, re-sent on retries).
    fn deliver(ctx: &Context, order: &Order, payment: &Payment) -> Result<Delivery, Error>;

    /// The revoke hook (refund, or a lapsed membership); the default does nothing.
    fn refunded(ctx: &Context, order: &Order, payment: &Payment) -> Result<(), Error> {
        let _ = (ctx, order, payment);
        Ok(())
    }

    /// The price of this order, asked when the buyer asks for an invoice. `order.amount` is the
    /// price so far (the list price, or `req.promo`'s price). The default keeps it.
    fn quote(ctx: &Context, order: &Order, req: &QuoteRequest) -> Result<QuoteAnswer, Error> {
        let _ = (ctx, order, req);
        Ok(QuoteAnswer::Keep)
    }
}

impl<P: Plugin> handler::Guest for P {
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

impl<P: Plugin> pricing::Guest for P {
    fn quote(ctx: Context, order: Order, request: QuoteRequest) -> Result<QuoteAnswer, Error> {
        log_panics();
        <P as Plugin>::quote(&ctx, &order, &request)
    }
}

/// Sends a panic's message to the host log before the instance aborts (see the crate root).
fn log_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| log::error(&format!("plugin {info}"))));
    });
}

/// Exports a type implementing [`Plugin`] as the component's `handler` and `pricing` (contract
/// 0.2.0). Use it once, at the crate root: `export_plugin_v0_2!(MyPlugin);`
#[macro_export]
macro_rules! export_plugin_v0_2 {
    ($ty:ident) => {
        $crate::v0_2::bindings::__export_plugin_v0_2_bindings!($ty with_types_in $crate::v0_2::bindings);
    };
}

/// Logging through the 0.2 `log` import (same caps as 0.1: 50 lines, 4 KiB per call).
pub mod log {
    pub use super::bindings::starsgate::plugin::log::Level;

    /// Sends one line to the host at `level`. Off wasm (unit tests) it prints to stderr.
    pub fn write(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        super::bindings::starsgate::plugin::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[{level:?}] {message}");
    }
    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }
    pub fn info(message: &str) {
        write(Level::Info, message)
    }
    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }
    pub fn error(message: &str) {
        write(Level::Error, message)
    }
}

impl Context {
    /// Parses the product's `[product.config]` (JSON) into `T`; see the 0.1 `Context::config`.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let raw = if self.config.trim().is_empty() {
            "{}"
        } else {
            self.config.as_str()
        };
        serde_json::from_str(raw).map_err(|e| config_error(e.to_string()))
    }

    /// A deterministic generator seeded with [`Context::seed`].
    pub fn rng(&self) -> crate::Seed {
        crate::Seed::new(self.seed)
    }
}

/// A non-retryable "invalid product config" error.
pub fn config_error(detail: impl core::fmt::Display) -> Error {
    Error::fatal(format!("invalid product config: {detail}"))
}

impl Error {
    /// A failure that will recur with the same input.
    pub fn fatal(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: false,
        }
    }
    /// A failure that may go away if the same call is made again later.
    pub fn retry(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: true,
        }
    }
}

impl Decision {
    /// Declines the checkout; `message` (1-200 printable characters) is shown to the buyer.
    pub fn reject(message: impl Into<String>) -> Self {
        Decision::Reject(message.into())
    }
}

impl QuoteAnswer {
    /// Sell at `amount` whole Stars with this invoice label (1-64 characters).
    pub fn price(amount: u32, label: impl Into<String>) -> Self {
        QuoteAnswer::Price(Price {
            amount,
            label: label.into(),
        })
    }
    /// Do not sell; `message` (1-200 printable characters) is shown to the buyer.
    pub fn refuse(message: impl Into<String>) -> Self {
        QuoteAnswer::Refuse(message.into())
    }
}

impl Delivery {
    /// A delivery that starts with one text item (1-4096 characters).
    pub fn text(text: impl Into<String>) -> Self {
        Delivery { items: Vec::new() }.and_text(text)
    }
    /// Appends a text item.
    pub fn and_text(mut self, text: impl Into<String>) -> Self {
        self.items.push(Item::Text(text.into()));
        self
    }
    /// Appends an `https://` link; an empty `label` sends the bare URL.
    pub fn link(mut self, url: impl Into<String>, label: impl Into<String>) -> Self {
        let label = label.into();
        self.items.push(Item::Link(Link {
            url: url.into(),
            label: (!label.is_empty()).then_some(label),
        }));
        self
    }
    /// Appends a file sent by `kind`'s method: `file` is an `https://` URL Telegram fetches or
    /// a `file_id` Telegram issued to the bot; an empty `caption` sends none.
    pub fn media(mut self, kind: MediaKind, file: impl Into<String>, caption: impl Into<String>) -> Self {
        let caption = caption.into();
        self.items.push(Item::Media(Media {
            kind,
            file: file.into(),
            caption: (!caption.is_empty()).then_some(caption),
        }));
        self
    }
    /// Appends a document (a PDF, an archive…): `media(MediaKind::Document, …)`.
    pub fn document(self, file: impl Into<String>, caption: impl Into<String>) -> Self {
        self.media(MediaKind::Document, file, caption)
    }
    /// Appends a photo: `media(MediaKind::Photo, …)`.
    pub fn photo(self, file: impl Into<String>, caption: impl Into<String>) -> Self {
        self.media(MediaKind::Photo, file, caption)
    }
}

/// Call inputs for unit tests on the host, as [`crate::testing`] for 0.1.
pub mod testing {
    use super::{Buyer, Context, Facts, Order, Payment, QuoteRequest};

    /// A context with `config` (JSON), zero facts and seed 1.
    pub fn context(config: &str) -> Context {
        Context {
            config: config.to_owned(),
            now_unix: 1_780_000_000,
            seed: 1,
            api_version: "0.2.0".to_owned(),
            facts: Facts {
                buyer_purchases: 0,
                units_sold: 0,
            },
        }
    }

    /// An order of 50 Stars by user 5001.
    pub fn order() -> Order {
        Order {
            order_id: "ord-1".to_owned(),
            bot_id: "bot".to_owned(),
            product_id: "product".to_owned(),
            amount: 50,
            currency: "XTR".to_owned(),
            buyer: Buyer {
                user_id: 5001,
                language_code: None,
            },
        }
    }

    /// A first payment of 50 Stars.
    pub fn payment() -> Payment {
        Payment {
            charge_id: "stx-1".to_owned(),
            paid_at_unix: 1_780_000_000,
            amount: 50,
            is_renewal: false,
            expires_at_unix: None,
        }
    }

    /// A one-time product listed at 50 Stars, no promo code.
    pub fn quote_request() -> QuoteRequest {
        QuoteRequest {
            list_price: 50,
            subscription: false,
            promo: None,
        }
    }
}

/// Everything a 0.2 plugin usually needs: `use starsgate_plugin::v0_2::prelude::*;`
pub mod prelude {
    pub use super::log;
    pub use super::{
        Buyer, Context, Decision, Delivery, Error, Facts, Item, Link, Media, MediaKind, Order,
        Payment, Plugin, Promo, QuoteAnswer, QuoteRequest,
    };
    pub use crate::{Seed, export_plugin_v0_2};
}
