//! The WebAssembly plugin host (wasmtime 48, component model). A plugin is compiled once (or
//! loaded from the compile cache), type-checked against `plugins/sdk/wit/plugin.wit` once, and then
//! every call gets a fresh store: its own fuel, epoch deadline and memory cap, so one call can
//! neither starve nor observe another. Nothing the plugin can reach touches the outside world.

mod bindings;
mod convert;
mod engine;
pub mod limits;
mod load;
mod state;
mod stdio;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store};

pub use limits::{Hook, Limits};
pub use load::LoadError;

use super::{Call, CallContext, Decision, Delivery, OrderView, PaymentView, Plugin, PluginError};
use bindings::{PluginPre, types};
use state::HostState;

/// Loads and keeps plugins: one per process is enough (see [`engine::engine`]).
pub struct PluginHost {
    engine: &'static Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache_dir: PathBuf,
    compat: String,
    /// Every version loaded in this process, by content hash: orders pinned to an older version
    /// are still delivered by it after a reload.
    versions: Mutex<HashMap<String, Arc<WasmPlugin>>>,
}

impl PluginHost {
    pub fn new(cache_dir: &Path, limits: Limits) -> Result<Arc<Self>, String> {
        // A cache directory that others can write to is refused before anything is loaded.
        load::CacheDir::inspect(cache_dir).map_err(|e| format!("plugins.cache_dir: {e}"))?;
        let engine = engine::engine()?;
        let mut linker = Linker::new(engine);
        bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| format!("cannot link the plugin contract: {e}"))?;
        Ok(Arc::new(Self {
            engine,
            linker,
            limits,
            cache_dir: cache_dir.to_owned(),
            compat: engine::compatibility_key(engine),
            versions: Mutex::new(HashMap::new()),
        }))
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Loads a plugin from its bytes; a version already loaded is reused.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<WasmPlugin>, LoadError> {
        let sha256 = sha256_hex(bytes);
        if let Some(p) = self.lock().get(&sha256) {
            return Ok(p.clone());
        }
        let (component, from_cache) =
            load::compile_cached(self.engine, bytes, &sha256, &self.cache_dir, &self.compat)?;
        let plugin = Arc::new(self.prepare(component, sha256.clone(), from_cache)?);
        self.lock().insert(sha256, plugin.clone());
        Ok(plugin)
    }

    pub fn load_file(&self, path: &Path) -> Result<Arc<WasmPlugin>, String> {
        let bytes = crate::files::read(path, limits::COMPONENT_BYTES as u64)
            .map_err(|e| format!("{} {e}", path.display()))?;
        self.load(&bytes)
            .map_err(|e| format!("{} {e}", path.display()))
    }

    /// A version by content hash: loaded in this process, or compiled by it earlier (the cache).
    pub fn version(&self, sha256: &str) -> Option<Arc<WasmPlugin>> {
        if let Some(p) = self.lock().get(sha256) {
            return Some(p.clone());
        }
        let component = load::cached_version(self.engine, sha256, &self.cache_dir, &self.compat)?;
        let plugin = Arc::new(self.prepare(component, sha256.to_owned(), true).ok()?);
        self.lock().insert(sha256.to_owned(), plugin.clone());
        Some(plugin)
    }

    fn prepare(
        &self,
        component: wasmtime::component::Component,
        sha256: String,
        from_cache: bool,
    ) -> Result<WasmPlugin, LoadError> {
        load::check_imports(self.engine, &component)?;
        load::check_exports(self.engine, &component)?;
        let mut linker = self.linker.clone();
        stdio::define(&mut linker, self.engine, &component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        Ok(WasmPlugin {
            sha256,
            pre,
            engine: self.engine,
            limits: self.limits,
            from_cache,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WasmPlugin>>> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A loaded, type-checked plugin. Cheap to call from many threads at once: each call
/// instantiates into its own store.
pub struct WasmPlugin {
    sha256: String,
    pre: PluginPre<HostState>,
    engine: &'static Engine,
    limits: Limits,
    /// Whether this process loaded it from the compile cache rather than compiling it.
    pub from_cache: bool,
}

impl WasmPlugin {
    fn call<T>(
        &self,
        hook: Hook,
        f: impl FnOnce(
            &bindings::Plugin,
            &mut Store<HostState>,
        ) -> wasmtime::Result<Result<T, types::PluginError>>,
    ) -> Call<T> {
        let fuel = self.limits.fuel(hook);
        let mut store = Store::new(self.engine, HostState::new(self.limits.memory_bytes));
        store.limiter(|s| s);
        store.set_epoch_deadline(self.limits.ticks(hook));
        let outcome = store
            .set_fuel(fuel)
            .and_then(|()| self.pre.instantiate(&mut store))
            .and_then(|instance| f(&instance, &mut store));
        let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(PluginError::Failed {
                message: e.message,
                retryable: e.retryable,
            }),
            Err(e) => Err(convert::classify_trap(&e, fuel, &self.limits, hook)),
        };
        store.data_mut().finish_streams();
        let state = store.into_data();
        Call {
            result,
            logs: state.logs,
            fuel_used,
            peak_memory: state.peak_memory,
        }
    }
}

impl Plugin for WasmPlugin {
    fn sha256(&self) -> Option<&str> {
        Some(&self.sha256)
    }

    fn pre_checkout(&self, ctx: &CallContext, order: &OrderView) -> Call<Decision> {
        let (ctx, order) = (convert::context(ctx), convert::order(order));
        self.call(Hook::PreCheckout, |p, store| {
            let r = p
                .starsgate_plugin_handler()
                .call_pre_checkout(store, &ctx, &order)?;
            Ok(r.map(convert::decision))
        })
    }

    fn deliver(
        &self,
        ctx: &CallContext,
        order: &OrderView,
        payment: &PaymentView,
    ) -> Call<Delivery> {
        let (ctx, order, payment) = (
            convert::context(ctx),
            convert::order(order),
            convert::payment(payment),
        );
        self.call(Hook::Deliver, |p, store| {
            let r = p
                .starsgate_plugin_handler()
                .call_deliver(store, &ctx, &order, &payment)?;
            Ok(r.map(convert::delivery))
        })
    }

    fn refunded(&self, ctx: &CallContext, order: &OrderView, payment: &PaymentView) -> Call<()> {
        let (ctx, order, payment) = (
            convert::context(ctx),
            convert::order(order),
            convert::payment(payment),
        );
        self.call(Hook::Refunded, |p, store| {
            p.starsgate_plugin_handler()
                .call_refunded(store, &ctx, &order, &payment)
        })
    }
}

/// The content hash plugins are known by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
