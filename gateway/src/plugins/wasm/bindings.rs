//! Host bindings generated from `plugins/sdk/wit/plugin.wit`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../plugins/sdk/wit",
});

pub use self::starsgate::plugin::{log, types};
