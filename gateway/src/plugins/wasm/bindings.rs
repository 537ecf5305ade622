//! Host bindings, one module per contract version the gateway serves: `v1` from
//! `plugins/sdk/wit/plugin.wit` (0.1.0) and `v2` from `plugins/sdk/wit-0.2/plugin.wit` (0.2.0,
//! which adds the optional `pricing` export). A component is bound by the version of `handler`
//! it exports, so 0.1 plugins keep running unchanged beside 0.2 ones.

pub mod v1 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../plugins/sdk/wit",
    });

    pub use self::starsgate::plugin::{log, types};
}

pub mod v2 {
    wasmtime::component::bindgen!({
        world: "quoting-plugin",
        path: "../plugins/sdk/wit-0.2",
    });

    pub use self::exports::starsgate::plugin::handler::GuestIndices as HandlerIndices;
    pub use self::exports::starsgate::plugin::pricing::GuestIndices as PricingIndices;
    pub use self::starsgate::plugin::{log, types};
}
