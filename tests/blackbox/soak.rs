//! A soak: many orders over many bots, with Telegram misbehaving, and at the end the ledger agrees
//! with Telegram's own record (getStarTransactions) charge for charge. The count is bounded:
//! `SOAK_ORDERS` (default 150) over `SOAK_BOTS` (default 8); the full run is
//! `SOAK_ORDERS=2000 SOAK_BOTS=50 cargo test --release -p starsgate-tests -- soak --nocapture`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use starsgate::ledger::PaymentStatus;
use starsgate_sim::Fault;
use tokio::sync::Semaphore;

use crate::helpers::*;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn soak_bot(i: usize) -> String {
    format!(
        "token_env = \"SOAK_{i:03}_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\ndelivery_attempts = 20\n\
         [[product]]\nid = \"guide\"\ntitle = \"Guide {i}\"\ndescription = \"A guide\"\nprice = {}\n\
         [product.config]\ntext = \"guide from soak-{i:03}\"\n\
         [[product]]\nid = \"key\"\ntitle = \"Key {i}\"\ndescription = \"A key\"\nprice = 7\nplugin = \"bundled:license-key\"\n\
         [product.config]\nprefix = \"SOAK\"\nmax_per_buyer = 1000\n",
        10 + i
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_across_bots_with_faults_leaves_the_ledger_agreeing_with_telegram() {
    let orders = env("SOAK_ORDERS", 150);
    let bots = env("SOAK_BOTS", 8).max(2);
    let mut h = Harness::new(Backend::Sqlite).await;
    let ids: Vec<String> = (0..bots).map(|i| format!("soak-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        h.add_bot(id, &soak_bot(i));
    }
    let gw = h.start().await;
    // Faults: some bots are throttled, some lose answers, one sees a 5xx, and every fifth
    // payment update is sent twice.
    let mut dropped_answers = 0;
    for (i, id) in ids.iter().enumerate() {
        let token = h.token(id);
        match i % 4 {
            0 => h.sim.inject_fault(
                &token,
                "sendMessage",
                Fault::TooManyRequests {
                    retry_after: 1,
                    times: 3,
                },
            ),
            1 => h.sim.inject_fault(
                &token,
                "answerCallbackQuery",
                Fault::DropResponse { times: 2 },
            ),
            2 if i == 2 => {
                h.sim
                    .inject_fault(&token, "sendInvoice", Fault::ServerError { times: 1 })
            }
            _ => {}
        }
        if i % 4 == 3 {
            h.sim
                .inject_fault(&token, "sendMessage", Fault::DropResponse { times: 1 });
            dropped_answers += 1;
        }
    }
    let h = Arc::new(h);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(24));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..orders {
        let (h, gate, bot) = (h.clone(), gate.clone(), ids[n % bots].clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let user = 100_000 + n as i64; // one buyer per order: chats do not interleave
            let product = if n % 3 == 0 { "key" } else { "guide" };
            let (charge, update) = h.buy(&bot, user, product).await;
            if n % 5 == 0 {
                h.sim.repeat_update(&h.token(&bot), update, false).unwrap();
            }
            (bot, user, charge)
        });
    }
    let mut sold: Vec<(String, i64, String)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        sold.push(done.expect("a buyer task"));
    }
    let paid_in = started.elapsed();
    let ledger = h.ledger().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let payments = ledger.payments(None).await.unwrap();
        let soak: Vec<_> = payments
            .iter()
            .filter(|p| p.bot.starts_with("soak-"))
            .collect();
        if soak.len() == orders && soak.iter().all(|p| p.status == PaymentStatus::Delivered) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not everything was delivered within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered_in = started.elapsed();
    // The ledger and Telegram agree, charge for charge and Star for Star.
    let mut ours = BTreeSet::new();
    for p in ledger
        .payments(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.bot.starts_with("soak-"))
    {
        ours.insert((p.bot.to_string(), p.charge_id.to_string(), p.amount));
    }
    let mut theirs = BTreeSet::new();
    for id in &ids {
        for t in h.sim.star_transactions(&h.token(id)) {
            if t.get("source").is_some() {
                let charge = t["id"].as_str().unwrap_or_default().to_owned();
                theirs.insert((id.clone(), charge, t["amount"].as_i64().unwrap_or_default()));
            }
        }
    }
    assert_eq!(ours.len(), orders);
    assert_eq!(ours, theirs, "the ledger and getStarTransactions disagree");
    // One delivery per charge, except where Telegram lost the answer to the delivery message
    // itself: then the message arrived but the gateway could not know, and sent it again.
    let mut per_chat: HashMap<(String, i64), usize> = HashMap::new();
    for (bot, user, _) in &sold {
        per_chat.insert((bot.clone(), *user), h.deliveries(bot, *user).len());
    }
    let extra: usize = per_chat.values().map(|n| n.saturating_sub(1)).sum();
    assert!(
        per_chat.values().all(|n| *n >= 1),
        "every paid order was delivered"
    );
    assert!(
        extra <= dropped_answers,
        "{extra} duplicate(s), but only {dropped_answers} lost answers"
    );
    println!(
        "soak: {orders} orders over {bots} bots: all paid in {:.1} s, all delivered in {:.1} s ({:.0} orders/s); \
         ledger = Telegram for {} charges; {extra} duplicate delivery message(s) from {dropped_answers} lost sendMessage answers",
        paid_in.as_secs_f64(),
        delivered_in.as_secs_f64(),
        orders as f64 / delivered_in.as_secs_f64(),
        ours.len()
    );
    gw.stop().await;
    match Arc::try_unwrap(h) {
        Ok(h) => h.finish().await,
        Err(_) => panic!("the harness is still shared"),
    }
}
