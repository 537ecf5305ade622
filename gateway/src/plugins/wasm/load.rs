//! Turning a `.wasm` file into something callable, off the hot path: check it is a component of
//! acceptable size, refuse capabilities a plugin must not have, compile it (or load the compiled
//! artifact from the cache), and type-check it against the contract once.

use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

use super::limits::COMPONENT_BYTES;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LoadError {
    #[error("is {0} bytes; the limit is {COMPONENT_BYTES}")]
    TooLarge(usize),
    #[error("is not a WebAssembly component (build it for wasm32-wasip2)")]
    NotAComponent,
    #[error("imports {import}: {why}")]
    ForbiddenImport { import: String, why: String },
    #[error("does not export starsgate:plugin/handler@0.1 or @0.2 (found: {0})")]
    WrongExports(String),
    #[error("cannot be compiled: {0}")]
    Compile(String),
    #[error("does not match the plugin contract: {0}")]
    Contract(String),
    #[error("cannot use the compile cache at {path}: {reason}")]
    Cache { path: String, reason: String },
}

/// Which imports a component may have. Ours is `log`; Rust's standard library also links the
/// WASI command interfaces even when a plugin never uses them, so those are allowed and defined
/// as traps (calling one fails the call). Anything that reaches the outside world is refused.
pub fn check_imports(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    const HARMLESS: &[&str] = &[
        "starsgate:plugin/",
        "wasi:io/",
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/terminal-",
    ];
    const REFUSED: &[(&str, &str)] = &[
        ("wasi:filesystem/", "plugins may not read or write files"),
        ("wasi:sockets/", "plugins may not use the network"),
        ("wasi:http/", "plugins may not use the network"),
        (
            "wasi:clocks/",
            "plugins may not read the clock; use the time in the call's context",
        ),
        (
            "wasi:random/",
            "plugins may not use randomness; use the seed in the call's context",
        ),
    ];
    let mut refused: Vec<(String, &str)> = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        if HARMLESS.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let why = REFUSED
            .iter()
            .find(|(p, _)| name.starts_with(p))
            .map(|(_, why)| *why)
            .unwrap_or("not part of the plugin contract");
        refused.push((name.to_owned(), why));
    }
    if refused.is_empty() {
        return Ok(());
    }
    // Name every refused import, so an author fixes them all in one go.
    let import = refused
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut reasons: Vec<&str> = refused.iter().map(|(_, w)| *w).collect();
    reasons.dedup();
    Err(LoadError::ForbiddenImport {
        import,
        why: reasons.join("; "),
    })
}

/// Which contract version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V1,
    /// 0.2.0; `quotes` when it also exports `pricing` (the `quote` hook).
    V2 {
        quotes: bool,
    },
}

/// The contract version of `component`, by the `handler` it exports (0.2 first: a component
/// exporting both is a 0.2 plugin that also served 0.1 hosts).
pub fn check_exports(engine: &Engine, component: &Component) -> Result<Contract, LoadError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(n, _)| n.to_owned())
        .collect();
    let has = |prefix: &str| exports.iter().any(|n| n.starts_with(prefix));
    if has("starsgate:plugin/handler@0.2.") {
        Ok(Contract::V2 {
            quotes: has("starsgate:plugin/pricing@0.2."),
        })
    } else if has("starsgate:plugin/handler@0.1.") {
        Ok(Contract::V1)
    } else {
        Err(LoadError::WrongExports(exports.join(", ")))
    }
}

/// Compiles `bytes`, or loads the artifact compiled earlier for the same content and engine.
/// Returns the component and whether it came from the cache.
pub fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    cache_dir: &Path,
    compat: &str,
) -> Result<(Component, bool), LoadError> {
    if bytes.len() > COMPONENT_BYTES {
        return Err(LoadError::TooLarge(bytes.len()));
    }
    // Authors hand us source components, never precompiled artifacts: those are trusted code.
    if Engine::detect_precompiled(bytes).is_some() || !is_component(bytes) {
        return Err(LoadError::NotAComponent);
    }
    let path = artifact_path(cache_dir, sha256, compat);
    let cache = CacheDir::inspect(cache_dir)?;
    if cache == CacheDir::Ours
        && path.exists()
        && let Some(component) = deserialize(engine, &path)
    {
        return Ok((component, true));
    }
    let compiled = engine
        .precompile_component(bytes)
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    write_atomically(cache_dir, &path, &compiled)?;
    // SAFETY: the bytes were produced by `precompile_component` of this very engine just now.
    let component = unsafe { Component::deserialize(engine, &compiled) }
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    Ok((component, false))
}

/// Loads a previously compiled artifact by content hash (a pinned version no longer in config).
pub fn cached_version(
    engine: &Engine,
    sha256: &str,
    cache_dir: &Path,
    compat: &str,
) -> Option<Component> {
    if CacheDir::inspect(cache_dir).ok()? != CacheDir::Ours {
        return None;
    }
    deserialize(engine, &artifact_path(cache_dir, sha256, compat))
}

/// The compile cache holds native code the gateway runs without further checks, so only a
/// directory nobody else can write to is trusted with it. The gateway creates it 0700 when it is
/// missing and never changes the permissions of one that exists (`cache_dir = "/tmp"` must not
/// lock other programs out of `/tmp`): one owned by another user, or writable by group or
/// others, is refused with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDir {
    /// Exists, and only this user can write to it.
    Ours,
    /// Does not exist yet; created 0700 when the first artifact is written.
    Missing,
}

impl CacheDir {
    pub fn inspect(dir: &Path) -> Result<Self, LoadError> {
        let refuse = |reason: String| LoadError::Cache {
            path: crate::brief::line(&dir.display().to_string()),
            reason,
        };
        let meta = match std::fs::metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::Missing),
            Err(e) => return Err(refuse(e.to_string())),
        };
        if !meta.is_dir() {
            return Err(refuse("it is not a directory".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let mode = meta.mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(refuse(format!(
                    "it is writable by other users (mode {mode:o}); compiled plugins are run as trusted code, so point plugins.cache_dir at a directory of the gateway's own (it is created 0700 if missing)"
                )));
            }
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            if meta.uid() != me {
                return Err(refuse(format!(
                    "it belongs to user {}, not to the gateway's user {me}; compiled plugins are run as trusted code, so point plugins.cache_dir at a directory of the gateway's own",
                    meta.uid()
                )));
            }
        }
        Ok(Self::Ours)
    }
}

fn deserialize(engine: &Engine, path: &Path) -> Option<Component> {
    // Only files this gateway wrote (its cache directory is its own, mode 0700) are trusted.
    if !matches!(
        Engine::detect_precompiled_file(path),
        Ok(Some(Precompiled::Component))
    ) {
        return None;
    }
    // SAFETY: the cache directory holds only artifacts written by `compile_cached` above, keyed
    // by the engine's compatibility hash, so a stale or foreign artifact is never picked up.
    unsafe { Component::deserialize_file(engine, path) }.ok()
}

fn artifact_path(cache_dir: &Path, sha256: &str, compat: &str) -> PathBuf {
    cache_dir.join(format!("{sha256}-{compat}.cwasm"))
}

fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    let err = |e: std::io::Error| LoadError::Cache {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    if CacheDir::inspect(dir)? == CacheDir::Missing {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        match builder.create(dir) {
            Ok(()) => {}
            // Another gateway (or a parallel load) created it first: judge it like any other.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                CacheDir::inspect(dir)?;
            }
            Err(e) => return Err(err(e)),
        }
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
