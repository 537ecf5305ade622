//! The WebAssembly plugin host (wasmtime 48, component model). A plugin is compiled once (or
//! loaded from the compile cache), type-checked once against the contract version it exports
//! (0.1.0, `plugins/sdk/wit/plugin.wit`, or 0.2.0, `plugins/sdk/wit-0.2/plugin.wit`, whose
//! `pricing` export is optional), and then every call gets a fresh store: its own fuel, epoch
//! deadline and memory cap, so one call can neither starve nor observe another. Nothing the
//! plugin can reach touches the outside world.

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
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{Engine, Store};

pub use limits::{Hook, Limits};
pub use load::LoadError;

use super::{
    Call, CallContext, Decision, Delivery, OrderView, PaymentView, Plugin, PluginError, Quote,
    QuoteRequest,
};
use bindings::{v1, v2};
use load::Contract;
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
        v1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| format!("cannot link the plugin contract 0.1: {e}"))?;
        v2::QuotingPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| format!("cannot link the plugin contract 0.2: {e}"))?;
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
        let contract = load::check_exports(self.engine, &component)?;
        let mut linker = self.linker.clone();
        stdio::define(&mut linker, self.engine, &component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let contract_error = |e: wasmtime::Error| LoadError::Contract(format!("{e:#}"));
        let pre = linker.instantiate_pre(&component).map_err(contract_error)?;
        let bound = match contract {
            Contract::V1 => Bound::V1(v1::PluginPre::new(pre).map_err(contract_error)?),
            Contract::V2 { quotes } => Bound::V2 {
                handler: v2::HandlerIndices::new(&pre).map_err(contract_error)?,
                pricing: if quotes {
                    Some(v2::PricingIndices::new(&pre).map_err(contract_error)?)
                } else {
                    None
                },
                pre,
            },
        };
        let quick = WasmPlugin {
            sha256: sha256.clone(),
            bound: bound.clone(),
            engine: self.engine,
            limits: self.limits.quick(),
            from_cache,
            quick: None,
        };
        Ok(WasmPlugin {
            sha256,
            bound,
            engine: self.engine,
            limits: self.limits,
            from_cache,
            quick: Some(Box::new(quick)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WasmPlugin>>> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A component bound to the contract version it exports.
#[derive(Clone)]
enum Bound {
    V1(v1::PluginPre<HostState>),
    V2 {
        pre: InstancePre<HostState>,
        handler: v2::HandlerIndices,
        /// Present when the component exports `pricing` (the `quote` hook).
        pricing: Option<v2::PricingIndices>,
    },
}

/// A loaded, type-checked plugin. Cheap to call from many threads at once: each call
/// instantiates into its own store.
pub struct WasmPlugin {
    sha256: String,
    bound: Bound,
    engine: &'static Engine,
    limits: Limits,
    /// Whether this process loaded it from the compile cache rather than compiling it.
    pub from_cache: bool,
    /// The same component under [`Limits::quick`]; `None` in the quick form itself.
    quick: Option<Box<WasmPlugin>>,
}

impl WasmPlugin {
    /// The contract version the component speaks ("0.1.0" or "0.2.0").
    pub fn api_version(&self) -> &'static str {
        match self.bound {
            Bound::V1(_) => super::API_VERSION,
            Bound::V2 { .. } => super::API_VERSION_0_2,
        }
    }

    /// Runs `f` in a fresh store under the hook's budget. `f` instantiates the component and
    /// makes the call.
    fn call<T>(
        &self,
        hook: Hook,
        f: impl FnOnce(&Self, &mut Store<HostState>) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Call<T> {
        let fuel = self.limits.fuel(hook);
        let mut store = Store::new(self.engine, HostState::new(self.limits.memory_bytes));
        store.limiter(|s| s);
        store.set_epoch_deadline(self.limits.ticks(hook));
        let outcome = store.set_fuel(fuel).and_then(|()| f(self, &mut store));
        let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        // The quick form's own budget ran out: not the plugin's outcome (see `Plugin::quick`).
        let unfinished = self.quick.is_none()
            && outcome.as_ref().is_err_and(|e| {
                matches!(
                    e.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::OutOfFuel | wasmtime::Trap::Interrupt)
                )
            });
        let result = match outcome {
            Ok(result) => result,
            Err(e) => Err(convert::classify_trap(&e, fuel, &self.limits, hook)),
        };
        store.data_mut().finish_streams();
        let state = store.into_data();
        Call {
            result,
            logs: state.logs,
            fuel_used,
            peak_memory: state.peak_memory,
            unfinished,
        }
    }

    /// The handler of either version, instantiated in `store`.
    fn handler(&self, store: &mut Store<HostState>) -> wasmtime::Result<Handler> {
        Ok(match &self.bound {
            Bound::V1(pre) => Handler::V1(pre.instantiate(&mut *store)?),
            Bound::V2 { pre, handler, .. } => {
                let instance = pre.instantiate(&mut *store)?;
                Handler::V2(handler.load(&mut *store, &instance)?)
            }
        })
    }
}

/// An instantiated handler of either contract version.
enum Handler {
    V1(v1::Plugin),
    V2(v2::exports::starsgate::plugin::handler::Guest),
}

impl Plugin for WasmPlugin {
    fn sha256(&self) -> Option<&str> {
        Some(&self.sha256)
    }

    fn quick(&self) -> Option<&dyn Plugin> {
        self.quick.as_deref().map(|q| q as &dyn Plugin)
    }

    fn pre_checkout(&self, ctx: &CallContext, order: &OrderView) -> Call<Decision> {
        self.call(Hook::PreCheckout, |me, store| {
            Ok(match me.handler(store)? {
                Handler::V1(p) => {
                    let (ctx, order) = (convert::v1::context(ctx), convert::v1::order(order));
                    p.starsgate_plugin_handler()
                        .call_pre_checkout(store, &ctx, &order)?
                        .map(convert::v1::decision)
                        .map_err(convert::v1::error)
                }
                Handler::V2(h) => {
                    let (ctx, order) = (convert::v2::context(ctx), convert::v2::order(order));
                    h.call_pre_checkout(store, &ctx, &order)?
                        .map(convert::v2::decision)
                        .map_err(convert::v2::error)
                }
            })
        })
    }

    fn deliver(
        &self,
        ctx: &CallContext,
        order: &OrderView,
        payment: &PaymentView,
    ) -> Call<Delivery> {
        self.call(Hook::Deliver, |me, store| {
            Ok(match me.handler(store)? {
                Handler::V1(p) => {
                    let ctx = convert::v1::context(ctx);
                    let (order, payment) =
                        (convert::v1::order(order), convert::v1::payment(payment));
                    p.starsgate_plugin_handler()
                        .call_deliver(store, &ctx, &order, &payment)?
                        .map(convert::v1::delivery)
                        .map_err(convert::v1::error)
                }
                Handler::V2(h) => {
                    let ctx = convert::v2::context(ctx);
                    let (order, payment) =
                        (convert::v2::order(order), convert::v2::payment(payment));
                    h.call_deliver(store, &ctx, &order, &payment)?
                        .map(convert::v2::delivery)
                        .map_err(convert::v2::error)
                }
            })
        })
    }

    fn refunded(&self, ctx: &CallContext, order: &OrderView, payment: &PaymentView) -> Call<()> {
        self.call(Hook::Refunded, |me, store| {
            Ok(match me.handler(store)? {
                Handler::V1(p) => {
                    let ctx = convert::v1::context(ctx);
                    let (order, payment) =
                        (convert::v1::order(order), convert::v1::payment(payment));
                    p.starsgate_plugin_handler()
                        .call_refunded(store, &ctx, &order, &payment)?
                        .map_err(convert::v1::error)
                }
                Handler::V2(h) => {
                    let ctx = convert::v2::context(ctx);
                    let (order, payment) =
                        (convert::v2::order(order), convert::v2::payment(payment));
                    h.call_refunded(store, &ctx, &order, &payment)?
                        .map_err(convert::v2::error)
                }
            })
        })
    }

    fn quotes(&self) -> bool {
        matches!(
            self.bound,
            Bound::V2 {
                pricing: Some(_),
                ..
            }
        )
    }

    fn quote(&self, ctx: &CallContext, order: &OrderView, req: &QuoteRequest) -> Call<Quote> {
        let Bound::V2 {
            pre,
            pricing: Some(pricing),
            ..
        } = &self.bound
        else {
            return Call::free(Ok(Quote::Keep));
        };
        self.call(Hook::Quote, |_, store| {
            let instance = pre.instantiate(&mut *store)?;
            let guest = pricing.load(&mut *store, &instance)?;
            let (ctx, order) = (convert::v2::context(ctx), convert::v2::order(order));
            let req = convert::v2::quote_request(req);
            Ok(guest
                .call_quote(store, &ctx, &order, &req)?
                .map(convert::v2::quote)
                .map_err(convert::v2::error))
        })
    }
}

/// The content hash plugins are known by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
