//! A plugin's stdout and stderr go to its log. Rust's `println!` and `eprintln!` (and any
//! language's standard streams) write through `wasi:cli/stdout` and `wasi:cli/stderr`, which the
//! gateway would otherwise define as traps: an author's first debug line would then kill the call
//! with a backtrace of unnamed frames. Instead each complete line becomes a log line
//! (`stdout: …`, `stderr: …`), under the same cap as the `log` import, so printing costs the
//! plugin nothing it could use against the host.
//!
//! Only the functions Rust's standard library and common guests use to write are defined
//! (`get-stdout`, `get-stderr`, the output stream's `write`, `blocking-write-and-flush`,
//! `check-write`, `flush`, `blocking-flush`, `subscribe`, and a pollable that is always ready,
//! since a write never waits); anything else a component imports from those
//! interfaces stays a trap. They are defined under the exact interface versions the component
//! imports, so any `0.2.x` guest links.

use wasmtime::Engine;
use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower, Resource, ResourceType};

use super::state::{HostState, Stream};

/// The host side of `wasi:io/streams.output-stream`; the resource's rep says which stream.
pub struct OutputStream;

/// The host side of `wasi:io/error.error`: never made, since a write never fails.
pub struct IoError;

/// `wasi:io/streams.stream-error`, for the functions' types.
#[derive(ComponentType, Lift, Lower)]
#[component(variant)]
enum StreamError {
    #[component(name = "last-operation-failed")]
    #[allow(dead_code)]
    LastOperationFailed(Resource<IoError>),
    #[component(name = "closed")]
    #[allow(dead_code)]
    Closed,
}

/// The host side of `wasi:io/poll.pollable`: always ready.
pub struct Pollable;

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
            streams.resource("pollable", ResourceType::host::<Pollable>(), |_, _| Ok(()))?;
            streams.resource(
                "output-stream",
                ResourceType::host::<OutputStream>(),
                |_, _| Ok(()),
            )?;
            streams.resource("error", ResourceType::host::<IoError>(), |_, _| Ok(()))?;
            for method in ["write", "blocking-write-and-flush"] {
                streams.func_wrap(
                    &format!("[method]output-stream.{method}"),
                    |mut store, (this, bytes): (Resource<OutputStream>, Vec<u8>)| {
                        let stream = Stream::from_rep(this.rep());
                        store.data_mut().write_stream(stream, &bytes);
                        Ok((Ok::<(), StreamError>(()),))
                    },
                )?;
            }
            for method in ["flush", "blocking-flush"] {
                streams.func_wrap(
                    &format!("[method]output-stream.{method}"),
                    |_, (_,): (Resource<OutputStream>,)| Ok((Ok::<(), StreamError>(()),)),
                )?;
            }
            streams.func_wrap(
                "[method]output-stream.check-write",
                |_, (_,): (Resource<OutputStream>,)| Ok((Ok::<u64, StreamError>(WRITE_BUDGET),)),
            )?;
            streams.func_wrap(
                "[method]output-stream.subscribe",
                |_, (_,): (Resource<OutputStream>,)| Ok((Resource::<Pollable>::new_own(0),)),
            )?;
        }
    }
    for name in imports.iter().filter(|n| n.starts_with("wasi:io/error@")) {
        linker
            .instance(name)?
            .resource("error", ResourceType::host::<IoError>(), |_, _| Ok(()))?;
    }
    for name in imports.iter().filter(|n| n.starts_with("wasi:io/poll@")) {
        // Writing never blocks here, so every pollable is ready at once.
        let mut poll = linker.instance(name)?;
        poll.resource("pollable", ResourceType::host::<Pollable>(), |_, _| Ok(()))?;
        poll.func_wrap(
            "[method]pollable.block",
            |_, (_,): (Resource<Pollable>,)| Ok(()),
        )?;
        poll.func_wrap(
            "[method]pollable.ready",
            |_, (_,): (Resource<Pollable>,)| Ok((true,)),
        )?;
        poll.func_wrap("poll", |_, (all,): (Vec<Resource<Pollable>>,)| {
            Ok(((0..all.len() as u32).collect::<Vec<u32>>(),))
        })?;
    }
    for name in &imports {
        for (prefix, getter, stream) in [
            ("wasi:cli/stdout@", "get-stdout", Stream::Stdout),
            ("wasi:cli/stderr@", "get-stderr", Stream::Stderr),
        ] {
            if name.starts_with(prefix) {
                let mut instance = linker.instance(name)?;
                // The interface re-exports `wasi:io/streams.output-stream`: the same type.
                instance.resource(
                    "output-stream",
                    ResourceType::host::<OutputStream>(),
                    |_, _| Ok(()),
                )?;
                instance.func_wrap(getter, move |_, ()| {
                    Ok((Resource::<OutputStream>::new_own(stream.rep()),))
                })?;
            }
        }
    }
    Ok(())
}
