//! `starsgate check`: load everything a `run` would load, call every product's pre-checkout once
//! with its real config, print every problem.

use std::path::Path;

use super::Failure;
use crate::config::{Config, SecretCheck};
use crate::plugins::wasm::PluginHost;

/// With [`SecretCheck::IfSet`], secrets that are not set are not problems; what they would
/// have let us check is printed as "not checked: …".
pub fn check(dir: &Path, policy: SecretCheck) -> Result<(), Failure> {
    let (config, unchecked) = match Config::load_for_check(dir, policy) {
        Ok(c) => c,
        Err(problems) => {
            for p in problems.iter() {
                eprintln!("{p}");
            }
            return Err(Failure(format!(
                "{} problem(s) in {}",
                problems.0.len(),
                dir.display()
            )));
        }
    };
    let limits = config.gateway.plugins.limits.limits;
    let host = PluginHost::new(&config.gateway.plugins.cache_dir, limits).map_err(Failure)?;
    let mut failed = 0;
    for bot in &config.bots {
        if let Err(errors) = crate::app::load_plugins(bot, &host) {
            for e in &errors {
                eprintln!("{e}");
            }
            failed += errors.len();
        }
    }
    if failed > 0 {
        return Err(Failure(format!(
            "{failed} plugin problem(s) in {}",
            dir.display()
        )));
    }
    let products: usize = config.bots.iter().map(|b| b.products.len()).sum();
    for note in &unchecked {
        println!("not checked: {note}");
    }
    let caveat = if unchecked.is_empty() {
        ""
    } else {
        " (without the secrets listed above)"
    };
    println!(
        "{}: OK{caveat}: {} bot(s), {products} product(s).",
        dir.display(),
        config.bots.len()
    );
    Ok(())
}
