//! `starsgate plugin new NAME [--hook refunded]`: a standalone plugin project that builds
//! anywhere. The SDK (`plugins/sdk`, the WIT included) is embedded in this binary and written into
//! the project as `sdk/`, a path dependency, with a `Cargo.lock` that pins what it needs; so the
//! project matches the contract this gateway speaks and needs neither this repository nor the
//! network once the crates are in cargo's cache.

use std::path::{Path, PathBuf};

use super::Failure;
use crate::plugins::API_VERSION;

/// Hooks a new project gets code and fixtures for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewHook {
    /// Always written: every plugin answers it.
    PreCheckout,
    /// Always written: every plugin answers it.
    Deliver,
    /// The revoke hook, called when a payment is refunded or a subscription lapses.
    Refunded,
}

/// The SDK's files, as they are in `plugins/sdk`.
const SDK: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugins/sdk/Cargo.toml"),
    ),
    (
        "wit/plugin.wit",
        include_str!("../../../plugins/sdk/wit/plugin.wit"),
    ),
    (
        "wit-0.2/plugin.wit",
        include_str!("../../../plugins/sdk/wit-0.2/plugin.wit"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugins/sdk/src/lib.rs"),
    ),
    (
        "src/context.rs",
        include_str!("../../../plugins/sdk/src/context.rs"),
    ),
    (
        "src/limits.rs",
        include_str!("../../../plugins/sdk/src/limits.rs"),
    ),
    (
        "src/log.rs",
        include_str!("../../../plugins/sdk/src/log.rs"),
    ),
    (
        "src/output.rs",
        include_str!("../../../plugins/sdk/src/output.rs"),
    ),
    (
        "src/seed.rs",
        include_str!("../../../plugins/sdk/src/seed.rs"),
    ),
    (
        "src/testing.rs",
        include_str!("../../../plugins/sdk/src/testing.rs"),
    ),
    (
        "src/v0_2.rs",
        include_str!("../../../plugins/sdk/src/v0_2.rs"),
    ),
];

/// The plugin template's lock file: the same dependencies, so a new project resolves offline.
const LOCK: &str = include_str!("../../../examples/plugin-template/Cargo.lock");

const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/plugin-new/Cargo.toml.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/plugin-new/gitignore.tmpl"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../templates/plugin-new/cargo-config.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/plugin-new/README.md.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/plugin-new/lib.rs.tmpl"),
    ),
    (
        "fixtures/approves-a-first-purchase.json",
        include_str!("../../templates/plugin-new/fixtures/approves-a-first-purchase.json"),
    ),
    (
        "fixtures/rejects-over-the-limit.json",
        include_str!("../../templates/plugin-new/fixtures/rejects-over-the-limit.json"),
    ),
    (
        "fixtures/fails-without-text.json",
        include_str!("../../templates/plugin-new/fixtures/fails-without-text.json"),
    ),
    (
        "fixtures/delivers-a-code.json",
        include_str!("../../templates/plugin-new/fixtures/delivers-a-code.json"),
    ),
];

const REFUNDED_CODE: &str = include_str!("../../templates/plugin-new/refunded.rs.tmpl");
const REFUNDED_FIXTURE: (&str, &str) = (
    "fixtures/refunded-revokes.json",
    include_str!("../../templates/plugin-new/fixtures/refunded-revokes.json"),
);

/// Writes the project `NAME` into `parent/NAME` and prints how to build and test it.
pub fn plugin_new(parent: &Path, name: &str, hooks: &[NewHook]) -> Result<(), Failure> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(Failure(format!(
            "{}: already exists; choose another NAME or remove it",
            dir.display()
        )));
    }
    let crate_name = name.replace('-', "_");
    let mut type_name = camel(name);
    // The prelude's names (and the SDK's crate) must stay free.
    if PRELUDE.contains(&type_name.as_str()) {
        type_name.push_str("Plugin");
    }
    let refunded = hooks.contains(&NewHook::Refunded);
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{type}}", &type_name)
            .replace("{{api}}", API_VERSION)
            .replace("{{refunded}}", if refunded { REFUNDED_CODE } else { "" })
    };
    let mut files: Vec<(PathBuf, String)> = TEMPLATE
        .iter()
        .map(|(path, text)| (PathBuf::from(path), fill(text)))
        .collect();
    if refunded {
        files.push((REFUNDED_FIXTURE.0.into(), REFUNDED_FIXTURE.1.to_owned()));
    }
    files.push((
        "Cargo.lock".into(),
        LOCK.replace("name = \"gift-card\"", &format!("name = \"{name}\"")),
    ));
    for (path, text) in SDK {
        files.push((Path::new("sdk").join(path), (*text).to_owned()));
    }
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    }
    println!(
        "Wrote {} ({} files, the SDK in sdk/).",
        dir.display(),
        files.len()
    );
    println!("Next:");
    println!("  cd {}", dir.display());
    println!("  rustup target add wasm32-wasip2   # once");
    println!("  cargo build --release --target wasm32-wasip2");
    println!(
        "  starsgate plugin test target/wasm32-wasip2/release/{crate_name}.wasm fixtures/*.json"
    );
    Ok(())
}

const PRELUDE: &[&str] = &[
    "Buyer", "Context", "Decision", "Delivery", "Error", "Facts", "Item", "Link", "Order",
    "Payment", "Plugin", "Seed", "Config",
];

/// A name that is a valid crate name and a plain directory name.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !matches!(
            name,
            "sdk" | "test" | "self" | "crate" | "super" | "std" | "core" | "starsgate-plugin"
        );
    if ok {
        Ok(())
    } else {
        Err(Failure(format!(
            "NAME: {} is not a plugin name; use 1-64 lower-case letters, digits, - or _, starting with a letter (e.g. course-seat)",
            crate::brief::value(name)
        )))
    }
}

/// `course-seat` → `CourseSeat`.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
