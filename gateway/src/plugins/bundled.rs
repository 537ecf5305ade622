//! The plugins that ship inside the binary, built from `plugins/` by `gateway/build.rs`. A bot
//! file names one as `plugin = "bundled:license-key"`.

/// Where the build put every plugin it built, including the test suite's hostile ones.
pub const BUILD_DIR: &str = env!("STARSGATE_PLUGIN_DIR");

const BUNDLED: &[(&str, &[u8])] = &[
    (
        "static-link",
        include_bytes!(concat!(env!("STARSGATE_PLUGIN_DIR"), "/static_link.wasm")),
    ),
    (
        "license-key",
        include_bytes!(concat!(env!("STARSGATE_PLUGIN_DIR"), "/license_key.wasm")),
    ),
    (
        "limited-stock",
        include_bytes!(concat!(env!("STARSGATE_PLUGIN_DIR"), "/limited_stock.wasm")),
    ),
    (
        "access-role",
        include_bytes!(concat!(env!("STARSGATE_PLUGIN_DIR"), "/access_role.wasm")),
    ),
    (
        "launch-price",
        include_bytes!(concat!(env!("STARSGATE_PLUGIN_DIR"), "/launch_price.wasm")),
    ),
];

pub fn get(name: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

pub fn names() -> Vec<&'static str> {
    BUNDLED.iter().map(|(n, _)| *n).collect()
}
