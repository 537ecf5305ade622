//! `starsgate demo`: the whole product, offline. It starts the built-in Telegram simulator, runs
//! the example stores from `config/` (embedded in the binary) against it with a fresh SQLite
//! ledger, plays buyers through the purchase flow and its hard cases, and prints what each party
//! saw and what the ledger holds.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use starsgate_sim::{InvoiceRef, PayOutcome, SentMessage, SimHandle, Simulator};

use crate::App;
use crate::config::Config;
use crate::domain::{BotId, ChargeId};
use crate::ledger::{EventKind, ExportFilter, Ledger};

/// The example deployment, as shipped in `config/bots/`.
pub const EXAMPLE_BOTS: &[(&str, &str)] = &[
    ("guides.toml", include_str!("../../config/bots/guides.toml")),
    ("games.toml", include_str!("../../config/bots/games.toml")),
];

/// Tokens the demo gives the example bots (the simulator accepts any well-formed token).
const DEMO_TOKENS: &[(&str, &str, &str)] = &[
    (
        "GUIDES_BOT_TOKEN",
        "700001:demo-guides-token",
        "guides_store_bot",
    ),
    (
        "GAMES_BOT_TOKEN",
        "700002:demo-games-token",
        "games_store_bot",
    ),
];

const WAIT: Duration = Duration::from_secs(10);

/// Writes a runnable copy of the example config pointing at `api_url`, with the ledger at
/// `ledger_url`. Used by the demo and the test suite.
pub fn write_example_config(
    dir: &Path,
    api_url: &url::Url,
    ledger_url: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("bots"))?;
    std::fs::write(
        dir.join("gateway.toml"),
        format!(
            "[ledger]\nurl = \"{ledger_url}\"\n\n[telegram]\napi_url = \"{api_url}\"\nmode = \"polling\"\npoll_timeout_secs = 10\n\n[plugins]\ncache_dir = \"{}\"\n",
            dir.join("plugin-cache").display()
        ),
    )?;
    for (name, body) in EXAMPLE_BOTS {
        std::fs::write(dir.join("bots").join(name), body)?;
    }
    Ok(())
}

/// Runs the scenes; with `serve`, then keeps everything running with the dashboard on that
/// address until `stop` completes (the command line passes Ctrl-C or SIGTERM).
pub async fn run(
    serve: Option<std::net::SocketAddr>,
    stop: impl Future<Output = ()>,
) -> Result<(), String> {
    crate::telemetry::init("warn");
    let started = std::time::Instant::now();
    let sim = Simulator::start(([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| format!("cannot start the Telegram simulator: {e}"))?;
    let dir =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let ledger_url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    write_example_config(dir.path(), &sim.api_url(), &ledger_url)
        .map_err(|e| format!("cannot write the demo config: {e}"))?;
    let mut tokens: HashMap<&str, String> = DEMO_TOKENS
        .iter()
        .map(|(var, token, _)| (*var, token.to_string()))
        .collect();
    if let Some(addr) = serve {
        serve_dashboard(dir.path(), addr, &mut tokens)?;
    }
    for (_, token, username) in DEMO_TOKENS {
        sim.add_bot(token, username);
    }
    let config = Config::load_with_secrets(dir.path(), &|name| tokens.get(name).cloned())
        .map_err(|p| format!("the embedded example config is invalid:\n{p}"))?;
    println!(
        "starsgate demo: the Telegram simulator is on {}.",
        sim.api_url()
    );
    println!(
        "Two stores run in one gateway: @guides_store_bot and @games_store_bot, one SQLite ledger.\n"
    );
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let running = app.start().await.map_err(|e| e.to_string())?;
    let result = scenes(&sim, &running).await;
    let ledger = running.ledger().clone();
    if result.is_ok() {
        print_ledger(&ledger, &sim).await?;
    }
    if let (Ok(()), Some(_)) = (&result, serve) {
        let token = tokens.get(DASHBOARD_TOKEN_ENV).cloned().unwrap_or_default();
        match running.admin_addr() {
            Some(addr) => println!(
                "\nThe seller's dashboard: http://{addr}/\nLog in with the admin token: {token}\n\
                 (set {DASHBOARD_TOKEN_ENV} to choose it). The simulator and the gateway keep \
                 running; press Ctrl-C to stop."
            ),
            None => println!("\nThe dashboard's listener is not bound."),
        }
        stop.await;
    }
    running.stop().await;
    sim.shutdown().await;
    result?;
    println!(
        "\nDemo finished in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The variable holding the demo dashboard's admin token (one is drawn when it is not set).
const DASHBOARD_TOKEN_ENV: &str = "STARSGATE_ADMIN_TOKEN";

/// Puts the admin listener on `addr` in the demo's config and gives it an admin token: the
/// caller's `STARSGATE_ADMIN_TOKEN`, or a random one printed once the scenes are over.
fn serve_dashboard(
    dir: &Path,
    addr: std::net::SocketAddr,
    tokens: &mut HashMap<&str, String>,
) -> Result<(), String> {
    use std::io::Write;
    let token = std::env::var(DASHBOARD_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| {
            use rand::RngCore;
            let mut raw = [0u8; 16];
            rand::rng().fill_bytes(&mut raw);
            hex::encode(raw)
        });
    tokens.insert(DASHBOARD_TOKEN_ENV, token);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("gateway.toml"))
        .and_then(|mut f| {
            writeln!(
                f,
                "\n[admin]\nlisten = \"{addr}\"\ntoken_env = \"{DASHBOARD_TOKEN_ENV}\""
            )?;
            Ok(f)
        })
        .map_err(|e| format!("cannot write the demo config: {e}"))?;
    file.flush()
        .map_err(|e| format!("cannot write the demo config: {e}"))
}

const GUIDES: &str = "700001:demo-guides-token";
const GAMES: &str = "700002:demo-games-token";
const ALICE: i64 = 1001;
const BOB: i64 = 1002;
const CAROL: i64 = 1003;
const DAVE: i64 = 1004;
const ERIN: i64 = 1005;
const FRANK: i64 = 1006;

async fn scenes(sim: &SimHandle, running: &crate::app::Running) -> Result<(), String> {
    // 1. Catalogue, buy button, invoice, payment, delivery.
    println!("1. Alice opens the guides store and buys from the catalogue.");
    sim.add_user(ALICE, "Alice");
    sim.send_text(GUIDES, ALICE, "/start");
    let msgs = wait_for(sim, GUIDES, ALICE, |m| {
        m.iter().any(|m| m.reply_markup.is_some())
    })
    .await?;
    let catalogue = msgs
        .iter()
        .find(|m| m.reply_markup.is_some())
        .ok_or("no catalogue")?;
    println!(
        "   bot: {}",
        indent(catalogue.text.as_deref().unwrap_or(""))
    );
    sim.press_button(GUIDES, ALICE, catalogue.message_id, "buy:premium-guide")
        .map_err(|e| e.to_string())?;
    let msgs = wait_for(sim, GUIDES, ALICE, |m| {
        m.iter().any(|m| m.invoice.is_some())
    })
    .await?;
    let invoice = msgs
        .iter()
        .rev()
        .find_map(|m| m.invoice.clone())
        .ok_or("no invoice")?;
    println!(
        "   bot sends an invoice: {:?}, {} {}, one price item, payload = order {}",
        invoice.title, invoice.amount, invoice.currency, invoice.payload
    );
    let (charge, update_id) = paid(pay(sim, GUIDES, ALICE).await?, "Alice")?;
    println!("   Alice pays 50 ⭐; Telegram confirms charge {charge}.");
    let text = delivered(sim, GUIDES, ALICE, 1).await?;
    println!("   bot delivers (static-link plugin): {}", indent(&text));

    // 2. Telegram repeats the successful_payment: exactly one delivery.
    println!("\n2. Telegram sends Alice's successful_payment again (as it may, until confirmed).");
    let repeat = sim
        .repeat_update(GUIDES, update_id, false)
        .map_err(|e| e.to_string())?;
    let outcome = processed(running.ledger(), &guides()?, repeat).await?;
    let count = deliveries(&sim.messages(GUIDES, ALICE));
    println!("   gateway: {outcome}. Alice has {count} delivery message (not 2).");

    // 3. A second store; a licence key per buyer, at most one each.
    println!("\n3. Bob buys a starter pack from the games store (the guides store sells one too).");
    sim.add_user(BOB, "Bob");
    buy(sim, GAMES, BOB, "starter-pack", 1).await?;
    paid(pay(sim, GAMES, BOB).await?, "Bob")?;
    let text = delivered(sim, GAMES, BOB, 1).await?;
    println!(
        "   games bot delivers (license-key plugin): {}",
        indent(&text)
    );
    println!("   Bob tries to buy a second one.");
    buy(sim, GAMES, BOB, "starter-pack", 2).await?;
    refused(pay(sim, GAMES, BOB).await?, "Bob's second key")?;

    // 4. Limited stock: two chests exist.
    println!("\n4. Carol and Dave buy the two founder's chests; Erin is too late.");
    for (user, name) in [(CAROL, "Carol"), (DAVE, "Dave")] {
        sim.add_user(user, name);
        buy(sim, GAMES, user, "gold-chest", 1).await?;
        paid(pay(sim, GAMES, user).await?, name)?;
        let text = delivered(sim, GAMES, user, 1).await?;
        println!("   {name} receives: {}", indent(&text));
    }
    sim.add_user(ERIN, "Erin");
    buy(sim, GAMES, ERIN, "gold-chest", 1).await?;
    refused(pay(sim, GAMES, ERIN).await?, "Erin")?;

    // 5. A refund, with Telegram's refunded_payment recorded once and access revoked.
    println!("\n5. Alice buys 30 days of Pro access, then asks for her money back.");
    buy(sim, GUIDES, ALICE, "pro-access", 2).await?;
    let (pro_charge, _) = paid(pay(sim, GUIDES, ALICE).await?, "Alice")?;
    let text = delivered(sim, GUIDES, ALICE, 2).await?;
    println!("   bot delivers (access-role plugin): {}", indent(&text));
    let store = running.store("guides").ok_or("no guides store")?;
    let pro_charge = ChargeId::parse(&pro_charge).map_err(|e| e.to_string())?;
    let outcome = crate::shop::refund(&store, &pro_charge, "demo: seller")
        .await
        .map_err(|e| e.to_string())?;
    println!("   seller refunds: {outcome}");
    let again = crate::shop::refund(&store, &pro_charge, "demo: seller, again")
        .await
        .map_err(|e| e.to_string())?;
    println!("   seller refunds again: {again}");
    wait(|| async {
        let events = running
            .ledger()
            .events(&store.id, Some(&pro_charge))
            .await
            .unwrap_or_default();
        events.iter().any(|e| e.kind == EventKind::RefundHook)
    })
    .await?;
    let events = running
        .ledger()
        .events(&store.id, Some(&pro_charge))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(hook) = events.iter().find(|e| e.kind == EventKind::RefundHook) {
        println!(
            "   the plugin's refund hook ran once: {}",
            hook.detail.clone().unwrap_or_default()
        );
    }
    membership(sim, running).await
}

/// 6. A monthly membership: bought through an invoice link, renewed by Telegram 30 days later.
async fn membership(sim: &SimHandle, running: &crate::app::Running) -> Result<(), String> {
    println!("\n6. Frank joins the monthly Pro membership; 30 days later Telegram renews it.");
    sim.add_user(FRANK, "Frank");
    sim.send_text(GUIDES, FRANK, "/buy pro-monthly");
    wait(|| async {
        sim.invoices(GUIDES)
            .iter()
            .any(|i| i.subscription_period.is_some())
    })
    .await?;
    paid(pay(sim, GUIDES, FRANK).await?, "Frank")?;
    let text = delivered(sim, GUIDES, FRANK, 1).await?;
    println!("   bot delivers (access-role plugin): {}", indent(&text));
    sim.advance_time(30 * 86_400 + 60);
    let text = delivered(sim, GUIDES, FRANK, 2).await?;
    println!(
        "   30 days pass; Telegram charges the renewal and the bot delivers again: {}",
        indent(&text)
    );
    sim.send_text(GUIDES, FRANK, "/subscriptions");
    let listed = |m: &SentMessage| {
        m.text
            .as_deref()
            .is_some_and(|t| t.starts_with("Your memberships"))
    };
    let msgs = wait_for(sim, GUIDES, FRANK, |m| m.iter().any(listed)).await?;
    let list = msgs
        .iter()
        .rev()
        .find(|m| listed(m))
        .and_then(|m| m.text.clone())
        .unwrap_or_default();
    println!("   Frank sends /subscriptions: {}", indent(&list));
    let subs = running
        .ledger()
        .subscriptions(&guides()?, FRANK)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(s) = subs.first() {
        println!(
            "   ledger: membership {} is {}, first charge {}, latest charge {}.",
            s.product, s.state, s.first_charge_id, s.last_charge_id
        );
    }
    Ok(())
}

async fn buy(
    sim: &SimHandle,
    token: &str,
    user: i64,
    product: &str,
    nth_invoice: usize,
) -> Result<(), String> {
    sim.send_text(token, user, &format!("/buy {product}"));
    wait_for(sim, token, user, |m| {
        m.iter().filter(|m| m.invoice.is_some()).count() >= nth_invoice
    })
    .await?;
    Ok(())
}

fn paid(outcome: PayOutcome, who: &str) -> Result<(String, i64), String> {
    match outcome {
        PayOutcome::Paid {
            charge_id,
            update_id,
        } => Ok((charge_id, update_id)),
        other => Err(format!("{who}'s payment did not go through: {other:?}")),
    }
}

fn refused(outcome: PayOutcome, what: &str) -> Result<(), String> {
    match outcome {
        PayOutcome::Rejected { error_message } => {
            println!(
                "   Telegram shows: \"{error_message}\" (answered within the 10 s deadline; no Stars moved)."
            );
            Ok(())
        }
        other => Err(format!("{what} should have been refused: {other:?}")),
    }
}

/// Waits for the n-th delivery message and returns its text.
async fn delivered(sim: &SimHandle, token: &str, user: i64, n: usize) -> Result<String, String> {
    let msgs = wait_for(sim, token, user, |m| deliveries(m) >= n).await?;
    Ok(msgs
        .iter()
        .filter_map(|m| m.text.clone())
        .filter(|t| t.starts_with("Thank you for your purchase"))
        .nth(n - 1)
        .unwrap_or_default())
}

async fn pay(sim: &SimHandle, token: &str, user: i64) -> Result<PayOutcome, String> {
    sim.pay(token, user, &InvoiceRef::Latest)
        .await
        .map_err(|e| e.to_string())
}

/// Delivery messages are the ones that start with the outbox's thank-you line.
fn deliveries(messages: &[SentMessage]) -> usize {
    messages
        .iter()
        .filter(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.starts_with("Thank you for your purchase"))
        })
        .count()
}

async fn wait_for(
    sim: &SimHandle,
    token: &str,
    chat: i64,
    pred: impl Fn(&[SentMessage]) -> bool,
) -> Result<Vec<SentMessage>, String> {
    let msgs = sim.wait_for_messages(token, chat, &pred, WAIT).await;
    if pred(&msgs) {
        Ok(msgs)
    } else {
        Err(format!(
            "the bot did not answer as expected within {} s",
            WAIT.as_secs()
        ))
    }
}

async fn wait<F: Future<Output = bool>>(check: impl Fn() -> F) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the gateway did not get there in time".into())
}

/// The demo's book store, as the ledger names it.
fn guides() -> Result<BotId, String> {
    BotId::parse("guides").map_err(|e| e.to_string())
}

async fn processed(ledger: &Ledger, bot: &BotId, update_id: i64) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(outcome)) = ledger.update_outcome(bot, update_id).await {
            return Ok(outcome);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("update {update_id} was not processed in time"))
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n        ")
}

async fn print_ledger(ledger: &Ledger, sim: &SimHandle) -> Result<(), String> {
    let records = ledger
        .export(&ExportFilter::default())
        .await
        .map_err(|e| e.to_string())?;
    println!("\nThe ledger ({} payments):", records.len());
    println!(
        "  {:<7} {:<14} {:<31} {:>6} {:<10} {:<20}",
        "bot", "product", "charge id", "amount", "status", "paid at"
    );
    for r in &records {
        println!(
            "  {:<7} {:<14} {:<31} {:>6} {:<10} {:<20}",
            r.bot, r.product, r.charge_id, r.amount, r.status, r.paid_at
        );
    }
    let telegram: usize = [GUIDES, GAMES]
        .iter()
        .map(|t| sim.star_transactions(t).len())
        .sum();
    println!("Telegram's star transactions (payments and refunds): {telegram}.");
    for s in ledger.stats(None).await.map_err(|e| e.to_string())? {
        println!(
            "  {} / {}: {} paid ({} renewals), {} delivered, {} refunded, net {} ⭐",
            s.bot, s.product, s.payments, s.renewals, s.delivered, s.refunded, s.net_revenue
        );
    }
    Ok(())
}
