//! Host bindings generated from `plugins/wit/plugin.wit`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../plugins/wit",
});

pub use self::starsgate::plugin::{log, types};
