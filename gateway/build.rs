//! Builds the plugins that ship with the gateway (`plugins/`, a separate cargo workspace) for
//! `wasm32-wasip2` and tells the crate where they are, so they are embedded in the binary
//! (`bundled:<name>` in a bot file) and the test suite finds its hostile plugins. No compiled
//! plugin is ever checked into git.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest
        .parent()
        .expect("gateway/ lives in the workspace root")
        .to_owned();
    let plugins = root.join("plugins");
    // A separate target directory: the outer build holds the lock on the workspace's own.
    let target_dir = root.join("target").join("plugins");
    for watched in [
        ".cargo",
        "Cargo.toml",
        "Cargo.lock",
        "sdk",
        "static-link",
        "license-key",
        "limited-stock",
        "access-role",
        "launch-price",
        "testing",
    ] {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        // From `plugins/`, so cargo reads `plugins/.cargo/config.toml` (the plugins' link flags).
        .current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host, not for wasm.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "building the bundled plugins failed ({s}). Is the plugin target installed? Run: rustup target add wasm32-wasip2"
        ),
        Err(e) => panic!("cannot run cargo to build the bundled plugins: {e}"),
    }
    let out = target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=STARSGATE_PLUGIN_DIR={}", out.display());
}
