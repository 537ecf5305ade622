//! `starsgate plugin test PLUGIN.wasm FIXTURE.json...`: a plugin under production limits, the
//! way the gateway will run it, with what each call cost.

use std::path::PathBuf;

use super::Failure;
use crate::plugins::Plugin;
use crate::plugins::fixture::{self, Fixture, Hook};
use crate::plugins::wasm::{self, Limits, PluginHost};

pub fn plugin_test(wasm_path: &PathBuf, fixtures: &[PathBuf]) -> Result<(), Failure> {
    let cache = tempfile::tempdir()
        .map_err(|e| Failure(format!("cannot create a temporary directory: {e}")))?;
    let limits = Limits::default();
    let host = PluginHost::new(cache.path(), limits).map_err(Failure)?;
    let started = std::time::Instant::now();
    let plugin = host.load_file(wasm_path).map_err(Failure)?;
    let size = std::fs::metadata(wasm_path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: sha256 {}, {} KiB, loaded in {} ms",
        wasm_path.display(),
        plugin.sha256().unwrap_or("?"),
        size / 1024,
        started.elapsed().as_millis()
    );
    let (mut passed, mut failed) = (0, 0);
    for path in fixtures {
        // A fixture that cannot be read is one failure; the others still run.
        let f = match crate::files::read_text(path, crate::files::TEXT_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|text| Fixture::parse(&text))
        {
            Ok(f) => f,
            Err(e) => {
                println!("FAIL {}", path.display());
                println!("    {}", crate::brief::line(&e));
                failed += 1;
                continue;
            }
        };
        let outcome = fixture::run(plugin.as_ref(), &f);
        let hook = match f.hook {
            Hook::PreCheckout => wasm::Hook::PreCheckout,
            Hook::Deliver => wasm::Hook::Deliver,
            Hook::Refunded => wasm::Hook::Refunded,
            Hook::Quote => wasm::Hook::Quote,
        };
        let budget = limits.fuel(hook);
        let name = f.name.clone().unwrap_or_else(|| path.display().to_string());
        println!(
            "{} {name} [{}]",
            if outcome.passed { "PASS" } else { "FAIL" },
            f.hook.name()
        );
        println!("    {}", outcome.output);
        println!(
            "    fuel {} of {budget} ({:.2}%), peak memory {:.1} MiB, {} log line(s)",
            outcome.fuel_used,
            outcome.fuel_used as f64 * 100.0 / budget as f64,
            outcome.peak_memory as f64 / (1 << 20) as f64,
            outcome.logs.len()
        );
        for line in &outcome.logs {
            println!("    log {line}");
        }
        if outcome.fuel_used * 2 > budget {
            println!("    warning: this call used more than half its fuel budget");
        }
        match &outcome.failure {
            None => passed += 1,
            Some(why) => {
                println!("    {why}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err(Failure(format!("{failed} fixture(s) failed")));
    }
    Ok(())
}
