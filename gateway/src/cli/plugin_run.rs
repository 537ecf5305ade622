//! `starsgate plugin run PLUGIN.wasm --hook HOOK [--config JSON] [--order JSON] [--payment JSON]
//! [--facts JSON] [--seed N] [--now UNIX] [--json]`: one call, under production limits, with its
//! output, fuel, memory and logs, as Shopify's function-runner does for its functions. The way to
//! try an input without writing a fixture.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Failure;
use crate::domain::ChargeId;
use crate::plugins::fixture::{self, FixtureOrder, FixturePayment, Hook, Input, Ran};
use crate::plugins::wasm::{self, Limits, PluginHost, WasmPlugin};
use crate::plugins::{CallContext, Facts};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The plugin component (.wasm).
    pub plugin: std::path::PathBuf,
    /// Which hook to call.
    #[arg(long, value_enum)]
    pub hook: Hook,
    /// The product's config as JSON, e.g. '{"text": "Your code:"}'.
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// The order as JSON (keys as in a fixture's "order"; the rest take fixture defaults).
    #[arg(long)]
    pub order: Option<String>,
    /// The payment as JSON (keys as in a fixture's "payment").
    #[arg(long)]
    pub payment: Option<String>,
    /// Ledger facts as JSON, e.g. '{"units_sold": 20}' (missing fields are 0).
    #[arg(long)]
    pub facts: Option<String>,
    /// What `--hook quote` is asked, as JSON (keys as in a fixture's "quote"), e.g.
    /// '{"list_price": 50, "promo": {"code": "SPRING25", "price": 38}}'.
    #[arg(long)]
    pub quote: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The call's time, Unix seconds.
    #[arg(long, default_value_t = 1_780_000_000)]
    pub now: i64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A plugin host with production limits and a throwaway compile cache.
pub fn load(path: &Path) -> Result<(Arc<WasmPlugin>, Limits, tempfile::TempDir), Failure> {
    let cache = tempfile::tempdir()
        .map_err(|e| Failure(format!("cannot create a temporary directory: {e}")))?;
    let limits = Limits::default();
    let host = PluginHost::new(cache.path(), limits).map_err(Failure)?;
    let plugin = host.load_file(path).map_err(Failure)?;
    Ok((plugin, limits, cache))
}

pub fn plugin_run(args: &RunArgs) -> Result<(), Failure> {
    let config: serde_json::Value = parse("--config", &args.config)?;
    let order: FixtureOrder = parse_opt("--order", args.order.as_deref())?;
    let payment: FixturePayment = parse_opt("--payment", args.payment.as_deref())?;
    let facts: Facts = parse_opt("--facts", args.facts.as_deref())?;
    let quote = parse_opt("--quote", args.quote.as_deref())?;
    let input = Input {
        hook: args.hook,
        ctx: CallContext {
            config: config.to_string(),
            now_unix: args.now,
            seed: args.seed,
            facts,
        },
        order: order.view(),
        payment: payment.view(order.amount, args.now),
        quote,
    };
    let (plugin, limits, _cache) = load(&args.plugin)?;
    let ran = fixture::invoke(plugin.as_ref(), &input);
    let budget = limits.fuel(wasm_hook(args.hook));
    if args.json {
        println!("{}", to_json(&input, &ran, budget));
    } else {
        println!("{}: {}", args.hook.name(), output_line(&ran));
        print_cost(&ran, budget);
    }
    match &ran.output {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure(format!("the call failed: {e}"))),
    }
}

pub fn wasm_hook(hook: Hook) -> wasm::Hook {
    match hook {
        Hook::PreCheckout => wasm::Hook::PreCheckout,
        Hook::Deliver => wasm::Hook::Deliver,
        Hook::Refunded => wasm::Hook::Refunded,
        Hook::Quote => wasm::Hook::Quote,
    }
}

pub fn output_line(ran: &Ran) -> String {
    match &ran.output {
        Ok(text) => text.clone(),
        Err(e) => e.to_string(),
    }
}

/// Fuel against the budget, peak memory and the log lines, indented under the output.
pub fn print_cost(ran: &Ran, budget: u64) {
    println!(
        "    fuel {} of {budget} ({:.2}%), peak memory {:.1} MiB, {} log line(s)",
        ran.fuel_used,
        ran.fuel_used as f64 * 100.0 / budget.max(1) as f64,
        ran.peak_memory as f64 / (1 << 20) as f64,
        ran.logs.len()
    );
    for line in &ran.logs {
        println!("    log {line}");
    }
    if ran.fuel_used * 2 > budget {
        println!("    warning: this call used more than half its fuel budget");
    }
}

pub fn to_json(input: &Input, ran: &Ran, budget: u64) -> serde_json::Value {
    serde_json::json!({
        "hook": input.hook.name(),
        "ok": ran.output.is_ok(),
        "output": ran.output.as_ref().ok(),
        "error": ran.output.as_ref().err().map(ToString::to_string),
        "delivery": ran.delivery,
        "fuel_used": ran.fuel_used,
        "fuel_budget": budget,
        "peak_memory": ran.peak_memory,
        "logs": ran.logs,
        "input": input,
    })
}

fn parse<T: DeserializeOwned>(arg: &str, text: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| Failure(format!("{arg}: not valid here: {e}")))
}

fn parse_opt<T: DeserializeOwned + Default>(arg: &str, text: Option<&str>) -> Result<T, Failure> {
    text.map_or_else(|| Ok(T::default()), |t| parse(arg, t))
}

/// `starsgate plugin replay --config DIR --bot BOT --charge ID [--plugin NEW.wasm] [--json]`:
/// re-runs a recorded delivery with the input the gateway built for it (the order's config
/// snapshot, the payment's time, the facts as of just before it, the seed), against the plugin
/// version the order was sold with and, if given, a new build; prints both outputs beside the
/// content stored in the ledger. How an author debugs a production report.
/// Which recorded delivery `plugin replay` re-runs.
pub enum Recorded {
    Charge(ChargeId),
    /// An order: its latest payment (an invoice can be paid more than once).
    Order(String),
}

pub async fn plugin_replay(
    dir: &Path,
    bot: &str,
    which: Recorded,
    new: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    let config = crate::config::Config::load(dir)
        .map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    let app = crate::App::build(config).await?;
    let store = app
        .store(bot)
        .ok_or_else(|| Failure(format!("--bot: no bot {bot:?}")))?;
    let charge = match which {
        Recorded::Charge(charge) => charge,
        Recorded::Order(order) => store
            .ledger()
            .payments(Some(&store.id))
            .await?
            .into_iter()
            .filter(|p| p.order_id.as_deref() == Some(order.as_str()))
            .max_by_key(|p| p.paid_at)
            .map(|p| p.charge_id)
            .ok_or_else(|| {
                Failure(format!(
                    "--order: order {} has no payment in bot {bot}'s ledger: nothing was delivered to replay",
                    crate::brief::value(&order)
                ))
            })?,
    };
    let recorded = crate::shop::replay::recorded_delivery(&store, &charge).await?;
    let input = Input {
        hook: Hook::Deliver,
        ctx: recorded.ctx.clone(),
        order: recorded.order.clone(),
        payment: recorded.payment.clone(),
        quote: Default::default(),
    };
    let pinned = fixture::invoke(recorded.plugin.as_ref(), &input);
    let stored: Option<crate::plugins::Delivery> = recorded
        .stored
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let mut runs = vec![("pinned", pinned)];
    let mut _cache = None;
    if let Some(path) = new {
        let (plugin, _, cache) = load(path)?;
        _cache = Some(cache);
        runs.push(("new", fixture::invoke(plugin.as_ref(), &input)));
    }
    let budget = Limits::default().fuel(wasm::Hook::Deliver);
    let same = |ran: &Ran| stored.is_some() && ran.delivery == stored;
    if json {
        let runs: Vec<_> = runs
            .iter()
            .map(|(which, ran)| {
                let mut v = to_json(&input, ran, budget);
                v["plugin"] = serde_json::json!(which);
                v["same_as_stored"] = serde_json::json!(same(ran));
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "charge_id": charge, "stored": stored, "runs": runs })
        );
    } else {
        match &stored {
            Some(d) => println!("stored: {}", fixture::describe(d)),
            None => println!("stored: nothing (no delivery was made)"),
        }
        for (which, ran) in &runs {
            let verdict = if same(ran) {
                "same as stored"
            } else {
                "differs from stored"
            };
            println!("{which}: {} ({verdict})", output_line(ran));
            print_cost(ran, budget);
        }
    }
    app.ledger().close().await;
    Ok(())
}
