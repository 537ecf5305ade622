//! `starsgate bench`: the load harness. It starts the built-in simulator and a gateway in this
//! process, configures many bots (webhook mode by default, a fresh SQLite ledger unless told
//! otherwise), and plays buyers through the complete purchase: command → invoice → pre-checkout
//! → payment → delivery. It prints throughput and latency percentiles. `--idle N` instead
//! measures N configured bots standing idle: time until all are ready, and resident memory.
//!
//! Every order counted is durable: it is counted when the ledger says delivered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use starsgate_sim::{InvoiceRef, PayOutcome, SimHandle, Simulator};
use tokio::sync::Semaphore;

use crate::App;
use crate::config::Config;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub bots: usize,
    pub orders: usize,
    pub concurrency: usize,
    pub webhook: bool,
    pub ledger_url: Option<String>,
    pub synchronous: String,
    pub idle: Option<usize>,
}

fn token(i: usize) -> String {
    format!("{}:bench-token-{i}", 900_000 + i)
}

fn write_config(
    dir: &std::path::Path,
    api: &url::Url,
    bots: usize,
    opts: &BenchOptions,
    webhook_port: u16,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("bots"))?;
    let ledger = opts
        .ledger_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("ledger.db").display()));
    let mode = if opts.webhook { "webhook" } else { "polling" };
    std::fs::write(
        dir.join("gateway.toml"),
        format!(
            "[ledger]\nurl = \"{ledger}\"\nreconcile_every_secs = 0\nsqlite_synchronous = \"{}\"\n\n\
             [telegram]\napi_url = \"{api}\"\nmode = \"{mode}\"\npoll_timeout_secs = 10\n\n\
             [webhook]\nlisten = \"127.0.0.1:{webhook_port}\"\npublic_url = \"http://127.0.0.1:{webhook_port}\"\n\
             max_connections = 100\n\n[plugins]\ncache_dir = \"{}\"\n\n[admin]\nper_bot_metrics_max = 10\n",
            opts.synchronous,
            dir.join("plugin-cache").display()
        ),
    )?;
    for i in 0..bots {
        std::fs::write(
            dir.join("bots").join(format!("b{i:04}.toml")),
            format!(
                "token_env = \"B{i:04}\"\nsupport = \"s\"\nterms = \"t\"\n\
                 [[product]]\nid = \"item\"\ntitle = \"Item {i}\"\ndescription = \"A bench item\"\nprice = 5\n\
                 [product.config]\ntext = \"your item from bot {i}\"\n"
            ),
        )?;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Start-up has settled once the bots made no Bot API call for this long (menus, the first
/// reconciliation and the like are done); only then is idle CPU measured.
const IDLE_SETTLE: Duration = Duration::from_secs(3);
/// How long idle CPU use is measured.
const IDLE_MEASURE: Duration = Duration::from_secs(20);

/// Waits until the bots' start-up calls are done: no Bot API call for [`IDLE_SETTLE`] (at most
/// two minutes). Returns how long that took from now.
async fn settle(sim: &SimHandle, bots: usize) -> Duration {
    let started = Instant::now();
    let calls = || (0..bots).map(|i| sim.calls(&token(i)).len()).sum::<usize>();
    let mut last = calls();
    let mut quiet_since = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = calls();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= IDLE_SETTLE {
            break;
        }
    }
    quiet_since.saturating_duration_since(started)
}

/// The name of the simulator's threads. The bench runs the simulator on a runtime of its own so
/// that the CPU the gateway uses can be told apart from the simulator's: idle with 10,000 bots,
/// the simulator's webhook pushers cost several times what the gateway does. (Linux keeps 15
/// bytes of a thread's name; this is 15.)
const SIM_THREADS: &str = "bench-simulator";

/// CPU time used so far (user + system, seconds): by the whole process, and by the simulator's
/// threads among it.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    all: f64,
    simulator: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let simulator = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .filter_map(|stat| {
                let (name, seconds) = stat_cpu(&stat)?;
                (name == SIM_THREADS).then_some(seconds)
            })
            .sum();
        let all = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| stat_cpu(&stat).map(|(_, seconds)| seconds))
            .unwrap_or(0.0);
        Cpu { all, simulator }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            all: self.all - before.all,
            simulator: self.simulator - before.simulator,
        }
    }

    /// What the rest of the process used: the gateway (and, under load, the buyers' tasks).
    fn besides_simulator(self) -> f64 {
        (self.all - self.simulator).max(0.0)
    }
}

/// The name and CPU seconds (user + system) in a `/proc/.../stat` line, whose figures are in
/// USER_HZ ticks: 100 per second on Linux.
fn stat_cpu(stat: &str) -> Option<(&str, f64)> {
    // The name is in parentheses and may itself contain spaces or parentheses.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (user + system) / 100.0))
}

/// The simulator's runtime. Dropped without waiting for its tasks: a runtime dropped the usual
/// way inside another runtime's task panics, and the bench may return early with an error.
struct SimRuntime(Option<tokio::runtime::Runtime>);

impl Drop for SimRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts the simulator on its own runtime, whose threads are named [`SIM_THREADS`].
async fn start_simulator() -> Result<(SimRuntime, SimHandle), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SIM_THREADS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the simulator's runtime: {e}"))?;
    let sim = runtime
        .spawn(Simulator::start(([127, 0, 0, 1], 0).into()))
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    Ok((SimRuntime(Some(runtime)), sim))
}

pub async fn run(opts: BenchOptions) -> Result<(), String> {
    crate::telemetry::init("warn");
    let (_sim_runtime, sim) = start_simulator().await?;
    let bots = opts.idle.unwrap_or(opts.bots).max(1);
    let mut tokens: HashMap<String, String> =
        (0..bots).map(|i| (format!("B{i:04}"), token(i))).collect();
    tokens.insert(
        "STARSGATE_WEBHOOK_SECRET".into(),
        "bench-master-secret-not-for-production".into(),
    );
    for i in 0..bots {
        sim.add_bot(&token(i), &format!("bench_{i}_bot"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    write_config(dir.path(), &sim.api_url(), bots, &opts, port).map_err(|e| e.to_string())?;
    let config = Config::load_with_secrets(dir.path(), &|name| tokens.get(name).cloned())
        .map_err(|p| format!("bench config:\n{p}"))?;
    let rss_before = rss_mib();
    let started = Instant::now();
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let running = app.start().await.map_err(|e| e.to_string())?;
    let stores: Vec<_> = (0..bots)
        .filter_map(|i| running.store(&format!("b{i:04}")))
        .collect();
    while !stores.iter().all(|s| s.is_ready()) {
        if started.elapsed() > Duration::from_secs(120) {
            return Err("the bots did not become ready within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ready_in = started.elapsed();
    if opts.idle.is_some() {
        // Let start-up work (first reads, reconciliation, menus) finish, then measure a quiet
        // stretch: the CPU the gateway (and the idle simulator) use while nothing happens.
        let settled_in = settle(&sim, bots).await;
        let cpu_before = Cpu::now();
        let quiet = Instant::now();
        tokio::time::sleep(IDLE_MEASURE).await;
        let idle = Cpu::now().since(cpu_before);
        let share = |seconds: f64| seconds * 100.0 / quiet.elapsed().as_secs_f64();
        println!(
            "idle: {bots} bots ({} mode) ready in {:.2} s, start-up calls done in {:.1} s; resident memory {:.0} MiB (simulator included; {:.0} MiB before the gateway started); over {} s idle, the gateway used {:.1}% of one core (the simulator {:.1}% besides)",
            if opts.webhook { "webhook" } else { "polling" },
            ready_in.as_secs_f64(),
            settled_in.as_secs_f64(),
            rss_mib(),
            rss_before,
            IDLE_MEASURE.as_secs(),
            share(idle.besides_simulator()),
            share(idle.simulator),
        );
        running.stop().await;
        sim.shutdown().await;
        return Ok(());
    }
    let cpu_before = Cpu::now();
    let result = drive(&sim, &opts, bots).await;
    let ledger = running.ledger().clone();
    let delivered_all = Instant::now();
    loop {
        let payments = ledger.payments(None).await.map_err(|e| e.to_string())?;
        let done = payments
            .iter()
            .filter(|p| p.status == crate::ledger::PaymentStatus::Delivered)
            .count();
        if done >= opts.orders {
            break;
        }
        if delivered_all.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "only {done} of {} orders were delivered",
                opts.orders
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu = Cpu::now().since(cpu_before);
    let (elapsed, mut e2e) = result?;
    let mut pre: Vec<f64> = (0..bots)
        .flat_map(|i| sim.precheckout_answers(&token(i)))
        .map(|a| a.after_ms as f64)
        .collect();
    pre.sort_by(f64::total_cmp);
    e2e.sort_by(f64::total_cmp);
    println!(
        "bench: {} orders over {bots} bots ({} mode, {} concurrent buyers, ledger {}, synchronous={}):",
        opts.orders,
        if opts.webhook { "webhook" } else { "polling" },
        opts.concurrency,
        if opts.ledger_url.is_some() {
            "as given"
        } else {
            "SQLite"
        },
        opts.synchronous
    );
    println!(
        "  throughput: {:.0} complete paid orders/s ({:.1} s for all, each durable in the ledger)",
        opts.orders as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  pre-checkout answered after: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&pre, 0.5),
        percentile(&pre, 0.99),
        pre.last().copied().unwrap_or(0.0)
    );
    println!(
        "  one order end to end (command to delivery): p50 {:.0} ms, p99 {:.0} ms",
        percentile(&e2e, 0.5),
        percentile(&e2e, 0.99)
    );
    println!(
        "  CPU: {:.2} ms per order, {:.0}% of one core on average (gateway, simulator and buyers together); {:.2} ms per order besides the simulator's threads (gateway and buyers)",
        cpu.all * 1000.0 / opts.orders as f64,
        cpu.all * 100.0 / elapsed.as_secs_f64(),
        cpu.besides_simulator() * 1000.0 / opts.orders as f64,
    );
    println!(
        "  bots ready in {:.2} s; resident memory {:.0} MiB",
        ready_in.as_secs_f64(),
        rss_mib()
    );
    running.stop().await;
    sim.shutdown().await;
    Ok(())
}

/// Plays `orders` buyers, `concurrency` at a time, spread over the bots; returns the total time
/// and each order's end-to-end latency in ms.
async fn drive(
    sim: &SimHandle,
    opts: &BenchOptions,
    bots: usize,
) -> Result<(Duration, Vec<f64>), String> {
    let gate = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..opts.orders {
        let (sim, gate) = (sim.clone(), gate.clone());
        let token = token(n % bots);
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let user = 10_000_000 + n as i64;
            let t0 = Instant::now();
            sim.send_text(&token, user, "/buy item");
            let wait = Duration::from_secs(30);
            let msgs = sim
                .wait_for_messages(
                    &token,
                    user,
                    |m| m.iter().any(|m| m.invoice.is_some()),
                    wait,
                )
                .await;
            if !msgs.iter().any(|m| m.invoice.is_some()) {
                return Err(format!("no invoice for buyer {user}"));
            }
            match sim.pay(&token, user, &InvoiceRef::Latest).await {
                Ok(PayOutcome::Paid { .. }) => {}
                other => return Err(format!("buyer {user}: {other:?}")),
            }
            let delivered = |m: &[starsgate_sim::SentMessage]| {
                m.iter().any(|m| {
                    m.text
                        .as_deref()
                        .is_some_and(|t| t.starts_with("Thank you"))
                })
            };
            let msgs = sim.wait_for_messages(&token, user, delivered, wait).await;
            if !delivered(&msgs) {
                return Err(format!("no delivery for buyer {user}"));
            }
            Ok(t0.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut latencies = Vec::with_capacity(opts.orders);
    while let Some(done) = tasks.join_next().await {
        latencies.push(done.map_err(|e| e.to_string())??);
    }
    Ok((started.elapsed(), latencies))
}
