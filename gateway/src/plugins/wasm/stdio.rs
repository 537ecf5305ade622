//! A plugin's stdout and stderr go to its log. Rust's `println!` and `eprintln!` (and any
//! language's standard streams) write through `wasi:cli/stdout` and `wasi:cli/stderr`, which the
//! gateway would otherwise define as traps: an author's first debug line would then kill the call
//! with a backtrace of unnamed frames. Instead each complete line becomes a log line
//! (`stdout: …`, `stderr: …`), under the same cap as the `log` import, so printing costs the
//! plugin nothing it could use against the host.
//!
//! Only the functions Rust's standard library and common guests use to write are defined
//! (`get-stdout`, `get-stderr`, and the output stream's `write`, `blocking-write-and-flush`,
//! `check-write`, `flush`, `blocking-flush`); anything else a component imports from those
//! interfaces stays a trap. They are defined under the exact interface versions the component
//! imports, so any `0.2.x` guest links.

use wasmtime::component::{Component, Linker, Resource, ResourceType, Val};
use wasmtime::{Engine, StoreContextMut};

use super::state::HostState;

/// The host side of `wasi:io/streams.output-stream`; the resource's rep says which stream.
pub struct OutputStream;

/// Which standard stream a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    const fn rep(self) -> u32 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }
    fn from_rep(rep: u32) -> Self {
        if rep == 2 {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// How much a plugin may write per `write` call (`check-write`'s answer).
const WRITE_BUDGET: u64 = 4096;

/// Defines stdout and stderr for `component` in `linker` (a copy made for this component).
pub fn define(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    for name in &imports {
        if name.starts_with("wasi:io/streams@") {
            let mut streams = linker.instance(name)?;
            streams.resource(
                "output-stream",
                ResourceType::host::<OutputStream>(),
                |_, _| Ok(()),
            )?;
            for method in ["write", "blocking-write-and-flush"] {
                streams.func_new(&format!("[method]output-stream.{method}"), write)?;
            }
            for method in ["flush", "blocking-flush"] {
                streams.func_new(&format!("[method]output-stream.{method}"), |_, _, _, out| {
                    set_ok(out, None);
                    Ok(())
                })?;
            }
            streams.func_new("[method]output-stream.check-write", |_, _, _, out| {
                set_ok(out, Some(Val::U64(WRITE_BUDGET)));
                Ok(())
            })?;
        }
    }
    for name in &imports {
        for (prefix, getter, stream) in [
            ("wasi:cli/stdout@", "get-stdout", Stream::Stdout),
            ("wasi:cli/stderr@", "get-stderr", Stream::Stderr),
        ] {
            if name.starts_with(prefix) {
                linker.instance(name)?.func_wrap(getter, move |_, ()| {
                    Ok((Resource::<OutputStream>::new_own(stream.rep()),))
                })?;
            }
        }
    }
    Ok(())
}

/// `write` and `blocking-write-and-flush`: `(borrow<output-stream>, list<u8>) -> result<_, stream-error>`.
fn write(
    mut store: StoreContextMut<'_, HostState>,
    _ty: wasmtime::component::types::ComponentFunc,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let (Some(Val::Resource(handle)), Some(Val::List(bytes))) = (params.first(), params.get(1))
    else {
        wasmtime::bail!("output-stream write: unexpected arguments");
    };
    let stream = Stream::from_rep(
        Resource::<OutputStream>::try_from_resource_any(*handle, &mut store)?.rep(),
    );
    let bytes: Vec<u8> = bytes
        .iter()
        .map(|v| match v {
            Val::U8(b) => *b,
            _ => b'?',
        })
        .collect();
    store.data_mut().write_stream(stream, &bytes);
    set_ok(results, None);
    Ok(())
}

fn set_ok(results: &mut [Val], value: Option<Val>) {
    if let Some(slot) = results.first_mut() {
        *slot = Val::Result(Ok(value.map(Box::new)));
    }
}
