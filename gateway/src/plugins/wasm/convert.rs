//! Between the gateway's types and the contract's (both versions: the types they share have the
//! same shapes, so one macro writes both sets of conversions; a delivery differs, since 0.2 adds
//! media items), and from wasmtime errors to `PluginError`.

use super::limits::{EPOCH_TICK, Hook, Limits};
use crate::plugins::{
    API_VERSION, API_VERSION_0_2, CallContext, Decision, Delivery, Item, Media, MediaKind,
    OrderView, PaymentView, PluginError, Quote, QuoteRequest,
};

/// The conversions of the types both contract versions share, for the `types` in scope.
macro_rules! shared {
    ($version:expr) => {
        pub fn context(c: &CallContext) -> types::Context {
            types::Context {
                config: c.config.clone(),
                now_unix: c.now_unix,
                seed: c.seed,
                api_version: $version.to_owned(),
                facts: types::Facts {
                    buyer_purchases: c.facts.buyer_purchases,
                    units_sold: c.facts.units_sold,
                },
            }
        }

        pub fn order(o: &OrderView) -> types::Order {
            types::Order {
                order_id: o.order_id.clone(),
                bot_id: o.bot_id.clone(),
                product_id: o.product_id.clone(),
                amount: o.amount,
                currency: o.currency.clone(),
                buyer: types::Buyer {
                    user_id: o.user_id,
                    language_code: o.language_code.clone(),
                },
            }
        }

        pub fn payment(p: &PaymentView) -> types::Payment {
            types::Payment {
                charge_id: p.charge_id.clone(),
                paid_at_unix: p.paid_at_unix,
                amount: p.amount,
                is_renewal: p.is_renewal,
                expires_at_unix: p.expires_at_unix,
            }
        }

        pub fn error(e: types::PluginError) -> PluginError {
            PluginError::Failed {
                message: e.message,
                retryable: e.retryable,
            }
        }

        pub fn decision(d: types::Decision) -> Decision {
            match d {
                types::Decision::Approve => Decision::Approve,
                types::Decision::Reject(msg) => Decision::Reject(msg),
            }
        }
    };
}

pub mod v1 {
    use super::*;
    use crate::plugins::wasm::bindings::v1::types;

    shared!(API_VERSION);

    pub fn delivery(d: types::Delivery) -> Delivery {
        let items = d.items.into_iter().map(|i| match i {
            types::Item::Text(text) => Item::Text { text },
            types::Item::Link(l) => Item::Link {
                url: l.url,
                label: l.label,
            },
        });
        Delivery {
            items: items.collect(),
        }
    }
}

pub mod v2 {
    use super::*;
    use crate::plugins::wasm::bindings::v2::types;

    shared!(API_VERSION_0_2);

    /// As 0.1's, plus files.
    pub fn delivery(d: types::Delivery) -> Delivery {
        let items = d.items.into_iter().map(|i| match i {
            types::Item::Text(text) => Item::Text { text },
            types::Item::Link(l) => Item::Link {
                url: l.url,
                label: l.label,
            },
            types::Item::Media(m) => Item::Media(Media {
                kind: match m.kind {
                    types::MediaKind::Document => MediaKind::Document,
                    types::MediaKind::Photo => MediaKind::Photo,
                    types::MediaKind::Video => MediaKind::Video,
                    types::MediaKind::Audio => MediaKind::Audio,
                },
                file: m.file,
                caption: m.caption,
            }),
        });
        Delivery {
            items: items.collect(),
        }
    }

    pub fn quote_request(r: &QuoteRequest) -> types::QuoteRequest {
        types::QuoteRequest {
            list_price: r.list_price,
            subscription: r.subscription,
            promo: r.promo.as_ref().map(|p| types::Promo {
                code: p.code.clone(),
                price: p.price,
            }),
        }
    }

    pub fn quote(q: types::QuoteAnswer) -> Quote {
        match q {
            types::QuoteAnswer::Keep => Quote::Keep,
            types::QuoteAnswer::Price(p) => Quote::Price {
                amount: p.amount,
                label: p.label,
            },
            types::QuoteAnswer::Refuse(msg) => Quote::Refuse(msg),
        }
    }
}

/// Names what stopped a call, for the ledger, the logs and `starsgate plugin test`: one line,
/// with the plugin's own function where the component kept its names (a release profile with
/// `strip = "debuginfo"`, as `starsgate plugin new` writes), never the raw backtrace.
pub fn classify_trap(e: &wasmtime::Error, fuel: u64, limits: &Limits, hook: Hook) -> PluginError {
    let at = plugin_function(e)
        .map(|f| format!(" in {f}"))
        .unwrap_or_default();
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return match trap {
            wasmtime::Trap::OutOfFuel => {
                PluginError::Trap(format!("ran out of fuel (budget {fuel}){at}"))
            }
            wasmtime::Trap::Interrupt => {
                PluginError::Timeout(limits.ticks(hook) * EPOCH_TICK.as_millis() as u64)
            }
            wasmtime::Trap::StackOverflow => PluginError::Trap(format!("stack overflow{at}")),
            wasmtime::Trap::UnreachableCodeReached => PluginError::Trap(format!(
                "unreachable code reached (a panic in the plugin){at}"
            )),
            other => PluginError::Trap(format!("{other}{at}")),
        };
    }
    let text = format!("{e:#}");
    if text.contains("growing memory") {
        return PluginError::Trap(format!(
            "memory limit of {} MiB exceeded",
            limits.memory_bytes >> 20
        ));
    }
    let cause = e.root_cause().to_string();
    if cause.starts_with("unknown import") {
        return PluginError::Trap(format!(
            "{cause}{at}: a plugin gets no WASI beyond stdout and stderr (which go to its log)"
        ));
    }
    PluginError::Trap(format!("{}{at}", crate::brief::line(&cause)))
}

/// The innermost frame of the plugin's own code: not the standard library, the SDK, the
/// bindings or the allocator.
fn plugin_function(e: &wasmtime::Error) -> Option<String> {
    const RUNTIME: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "starsgate_plugin::",
        "wit_bindgen",
        "dlmalloc",
        "__",
        "cabi_",
        "rust_",
        "<T as ",
        "<std::",
        "<core::",
        "<alloc::",
        "_start",
    ];
    let trace = e.downcast_ref::<wasmtime::WasmBacktrace>()?;
    trace
        .frames()
        .iter()
        .filter_map(|f| f.func_name())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .find(|name| {
            // Rust's own functions have paths; import shims and libc (`abort`) do not.
            name.contains("::")
                && !RUNTIME.iter().any(|p| name.starts_with(p))
                && !name.contains("starsgate_plugin::__Guest")
                && !name.contains("export_")
        })
}
