//! Plugins inside a running gateway: hostile ones are contained and the buyer gets the right
//! answer while everything else keeps selling; the bundled ones work end to end; an order is
//! served by the plugin version it was sold with.

use std::path::Path;

use starsgate::ledger::{EventKind, PaymentStatus};
use starsgate::plugins::bundled::BUILD_DIR;
use starsgate::plugins::wasm::{Limits, PluginHost};
use starsgate_sim::PayOutcome;

use crate::helpers::*;

const GENERIC: &str = "This item can't be bought right now. You have not been charged.";
const HOSTILE_MODES: &[&str] = &[
    "loop",
    "memory",
    "panic",
    "recursion",
    "huge-output",
    "bad-reject",
    "error",
    "retryable",
];

fn copy_plugin(h: &Harness, name: &str) {
    let dir = h.dir.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        Path::new(BUILD_DIR).join(format!("{name}.wasm")),
        dir.join(format!("{name}.wasm")),
    )
    .unwrap();
}

fn arena_bot() -> String {
    let mut toml = String::from("token_env = \"ARENA_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n");
    for mode in HOSTILE_MODES.iter().chain(["ok"].iter()) {
        toml.push_str(&format!(
            "[[product]]\nid = \"{mode}\"\ntitle = \"{mode}\"\ndescription = \"hostile: {mode}\"\nprice = 2\nplugin = \"plugins/hostile.wasm\"\n[product.config]\nmode = \"{mode}\"\n"
        ));
    }
    toml
}

async fn refused(h: &Harness, bot: &str, user: i64, product: &str) -> String {
    let n = h
        .sim
        .messages(&h.token(bot), user)
        .iter()
        .filter(|m| m.invoice.is_some())
        .count();
    h.say(bot, user, &format!("/buy {product}"));
    h.wait_for_invoice(bot, user, n + 1).await;
    match h.pay_latest(bot, user).await {
        PayOutcome::Rejected { error_message } => error_message,
        other => panic!("{bot}/{product} should have been refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained_and_everything_else_keeps_selling() {
    let mut h = Harness::new(Backend::Sqlite).await;
    copy_plugin(&h, "hostile");
    h.add_bot("arena", &arena_bot());
    let gw = h.start().await;
    for (i, mode) in HOSTILE_MODES.iter().enumerate() {
        let message = refused(&h, "arena", 100 + i as i64, mode).await;
        assert_eq!(
            message, GENERIC,
            "{mode}: the buyer sees the generic refusal"
        );
    }
    let answers = h.sim.precheckout_answers(&h.token("arena"));
    assert_eq!(answers.len(), HOSTILE_MODES.len());
    for a in &answers {
        assert!(
            a.accepted && !a.ok && a.after_ms < 10_000,
            "answered in time: {a:?}"
        );
    }
    assert!(
        h.sim.star_transactions(&h.token("arena")).is_empty(),
        "nobody was charged"
    );
    // The same plugin in good mode, another bot, and the ledger are all fine.
    h.buy("arena", 200, "ok").await;
    assert_eq!(h.wait_for_deliveries("arena", 200, 1).await.len(), 1);
    h.buy(GUIDES, 201, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, 201, 1).await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_whose_plugin_keeps_failing_is_paused_by_its_breaker() {
    let mut h = Harness::new(Backend::Sqlite).await;
    copy_plugin(&h, "hostile");
    h.add_bot("arena", &arena_bot());
    let gw = h.start().await;
    for i in 0..6 {
        assert_eq!(refused(&h, "arena", 300 + i, "error").await, GENERIC);
    }
    let ledger = h.ledger().await;
    eventually("six refusals in the history", || async {
        let events = ledger.events(&bot_id("arena"), None).await.unwrap();
        events
            .iter()
            .filter(|e| e.kind == EventKind::PreCheckoutRejected)
            .count()
            == 6
    })
    .await;
    let events = ledger.events(&bot_id("arena"), None).await.unwrap();
    let reasons: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::PreCheckoutRejected)
        .filter_map(|e| e.detail.clone())
        .collect();
    assert_eq!(reasons.len(), 6);
    // Events are written after the answer, so under load their order may differ from the
    // checkouts'; what matters is five calls reached the plugin and one was refused without it.
    let paused = reasons
        .iter()
        .filter(|r| r.contains("circuit breaker"))
        .count();
    let failed = reasons
        .iter()
        .filter(|r| r.contains("plugin failure") && !r.contains("circuit breaker"))
        .count();
    assert_eq!((failed, paused), (5, 1), "{reasons:#?}");
    // Other products of the same plugin are not paused.
    h.buy("arena", 310, "ok").await;
    h.wait_for_deliveries("arena", 310, 1).await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_with_forbidden_imports_is_refused_and_the_store_keeps_selling() {
    let mut h = Harness::new(Backend::Sqlite).await;
    copy_plugin(&h, "forbidden_fs");
    h.add_bot(
        "mixed",
        "token_env = \"MIXED_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n\
         [[product]]\nid = \"snoop\"\ntitle = \"Snoop\"\ndescription = \"reads files\"\nprice = 3\nplugin = \"plugins/forbidden_fs.wasm\"\n\
         [[product]]\nid = \"plain\"\ntitle = \"Plain\"\ndescription = \"built in\"\nprice = 4\n[product.config]\ntext = \"plain delivered\"\n",
    );
    let gw = h.start().await;
    assert_eq!(refused(&h, "mixed", 400, "snoop").await, GENERIC);
    h.buy("mixed", 401, "plain").await;
    assert!(h.wait_for_deliveries("mixed", 401, 1).await[0].contains("plain delivered"));
    gw.stop().await;
    h.finish().await;
}

/// One bot with a missing plugin file, a plugin that no longer matches its pin, and a product
/// that works.
fn broken_plugins_bot(h: &Harness) -> String {
    copy_plugin(h, "hostile");
    format!(
        "token_env = \"MIXED_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n\
         [[product]]\nid = \"gone\"\ntitle = \"Gone\"\ndescription = \"missing file\"\nprice = 3\nplugin = \"plugins/nowhere.wasm\"\n\
         [[product]]\nid = \"repinned\"\ntitle = \"Repinned\"\ndescription = \"wrong pin\"\nprice = 3\nplugin = \"plugins/hostile.wasm\"\nplugin_sha256 = \"{}\"\n[product.config]\nmode = \"ok\"\n\
         [[product]]\nid = \"plain\"\ntitle = \"Plain\"\ndescription = \"built in\"\nprice = 4\n[product.config]\ntext = \"plain delivered\"\n",
        "0".repeat(64)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_run_a_product_whose_plugin_cannot_load_refuses_checkouts_while_the_store_sells() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let bot = broken_plugins_bot(&h);
    h.add_bot("mixed", &bot);
    // `check` names both problems, as file: key: reason …
    let out = h
        .command()
        .args(["check", "--config"])
        .arg(h.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("mixed.toml: product[0].plugin: "), "{err}");
    assert!(
        err.contains("mixed.toml: product[1].plugin_sha256: "),
        "{err}"
    );
    // … while the real `starsgate run` starts, and only those two products refuse.
    let mut child = h.spawn_process(None);
    assert_eq!(refused(&h, "mixed", 410, "gone").await, GENERIC);
    assert_eq!(refused(&h, "mixed", 411, "repinned").await, GENERIC);
    h.buy("mixed", 412, "plain").await;
    assert!(h.wait_for_deliveries("mixed", 412, 1).await[0].contains("plain delivered"));
    h.buy(GUIDES, 413, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, 413, 1).await;
    let _ = child.kill();
    let _ = child.wait();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_key_is_limited_per_buyer_and_unique_per_payment() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.buy(GAMES, 500, "starter-pack").await;
    let first = h.wait_for_deliveries(GAMES, 500, 1).await;
    assert_eq!(
        refused(&h, GAMES, 500, "starter-pack").await,
        "You already own the maximum of 1 keys for this product."
    );
    h.buy(GAMES, 501, "starter-pack").await;
    let second = h.wait_for_deliveries(GAMES, 501, 1).await;
    assert!(
        first[0].contains("Key #1: STARTER-") && second[0].contains("Key #2: STARTER-"),
        "{first:?} {second:?}"
    );
    assert_ne!(
        first[0].replace("#1", ""),
        second[0].replace("#2", ""),
        "each payment gets its own key"
    );
    gw.stop().await;
    h.finish().await;
}

async fn limited_stock_runs_out_and_a_refund_puts_a_unit_back(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (first, _) = h.buy(GAMES, 600, "gold-chest").await;
    h.buy(GAMES, 601, "gold-chest").await;
    h.wait_for_deliveries(GAMES, 600, 1).await;
    h.wait_for_deliveries(GAMES, 601, 1).await;
    assert!(
        refused(&h, GAMES, 602, "gold-chest")
            .await
            .starts_with("Sold out: all 2 units are gone.")
    );
    let store = gw.store(GAMES).unwrap();
    starsgate::shop::refund(&store, &charge_id_of(&first), "test")
        .await
        .unwrap();
    h.buy(GAMES, 603, "gold-chest").await;
    let delivered = h.wait_for_deliveries(GAMES, 603, 1).await;
    assert!(delivered[0].contains("Unit 2 of 2"), "{delivered:?}");
    gw.stop().await;
    h.finish().await;
}

async fn a_refund_revokes_access_exactly_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, 700, "pro-access").await;
    let delivered = h.wait_for_deliveries(GUIDES, 700, 1).await;
    assert!(delivered[0].contains("Access token: pro-"), "{delivered:?}");
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    h.wait_for(GUIDES, GUIDES_ADMIN, "two answers", |m| m.len() >= 2)
        .await;
    let ledger = h.ledger().await;
    eventually("Telegram's refunded_payment to be processed", || async {
        h.sim.pending_updates(&h.token(GUIDES)) == 0
            && ledger
                .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
                .await
                .unwrap()
                .iter()
                .any(|e| e.kind == EventKind::RefundHook)
    })
    .await;
    h.settle().await;
    let hooks: Vec<String> = ledger
        .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::RefundHook)
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(hooks.len(), 1, "the revoke hook ran once: {hooks:?}");
    assert!(
        hooks[0].contains("revoked role pro for user 700"),
        "{hooks:?}"
    );
    assert_eq!(
        payment(&ledger, GUIDES, &charge).await.status,
        PaymentStatus::Refunded
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_served_by_the_plugin_version_it_was_sold_with() {
    let h = Harness::new(Backend::Sqlite).await;
    copy_plugin(&h, "hostile");
    let gw = h.start().await;
    h.say(GUIDES, 800, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 800, 1).await;
    // The seller swaps the product's plugin while the invoice is open.
    let mut config = h.config();
    let guides = config
        .bots
        .iter_mut()
        .find(|b| b.id.as_str() == GUIDES)
        .unwrap();
    let product = guides
        .products
        .iter_mut()
        .find(|p| p.id.as_str() == "premium-guide")
        .unwrap();
    let old_sha = product.plugin.as_ref().unwrap().sha256.clone();
    let new_bytes = std::fs::read(h.dir.path().join("plugins/hostile.wasm")).unwrap();
    product.plugin = Some(starsgate::config::PluginRef {
        source: starsgate::config::PluginSource::File(h.dir.path().join("plugins/hostile.wasm")),
        sha256: starsgate::plugins::wasm::sha256_hex(&new_bytes),
        unusable: None,
    });
    product.config = serde_json::json!({"mode": "ok"});
    let host = PluginHost::new(&config.gateway.plugins.cache_dir, Limits::default()).unwrap();
    let catalogue =
        starsgate::app::load_plugins(guides, &host).unwrap_or_else(|e| panic!("{}", e[0]));
    gw.store(GUIDES).unwrap().replace(guides.clone(), catalogue);
    let charge = match h.pay_latest(GUIDES, 800).await {
        PayOutcome::Paid { charge_id, .. } => charge_id,
        other => panic!("{other:?}"),
    };
    let delivered = h.wait_for_deliveries(GUIDES, 800, 1).await;
    assert!(
        delivered[0].contains("python-integration.pdf"),
        "delivered by the old version: {delivered:?}"
    );
    let p = payment(&h.ledger().await, GUIDES, &charge).await;
    assert_eq!(p.plugin_sha256.as_deref(), Some(old_sha.as_str()));
    // A new order uses the new version.
    h.say(GUIDES, 801, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 801, 1).await;
    let _ = h.pay_latest(GUIDES, 801).await;
    let delivered = h.wait_for_deliveries(GUIDES, 801, 1).await;
    assert!(delivered[0].ends_with("ok"), "{delivered:?}");
    gw.stop().await;
    h.finish().await;
}

crate::on_both_ledgers!(
    limited_stock_runs_out_and_a_refund_puts_a_unit_back,
    a_refund_revokes_access_exactly_once
);

async fn a_plugin_failing_after_payment_holds_the_order_for_review_and_tells_the_buyer(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    copy_plugin(&h, "hostile");
    h.add_bot(
        "fragile",
        "token_env = \"FRAGILE_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n\
         [[product]]\nid = \"trap\"\ntitle = \"Trap\"\ndescription = \"fails at delivery\"\nprice = 7\nplugin = \"plugins/hostile.wasm\"\n\
         [product.config]\nmode = \"panic\"\nat = \"deliver\"\n",
    );
    let gw = h.start().await;
    let (charge, _) = h.buy("fragile", 900, "trap").await;
    let msgs = h
        .wait_for("fragile", 900, "a notice", |m| {
            m.iter().any(|m| {
                m.text
                    .as_deref()
                    .is_some_and(|t| t.contains("delivering your purchase failed"))
            })
        })
        .await;
    assert!(deliveries(&msgs).is_empty());
    let ledger = h.ledger().await;
    let p = payment(&ledger, "fragile", &charge).await;
    assert_eq!(
        p.status,
        PaymentStatus::NeedsReview,
        "recorded, never lost, held for the seller"
    );
    assert_eq!(p.amount, 7);
    gw.stop().await;
    h.finish().await;
}

crate::on_both_ledgers!(
    a_plugin_failing_after_payment_holds_the_order_for_review_and_tells_the_buyer
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_get_one_message_per_held_order() {
    const ADMIN: i64 = 777;
    let mut h = Harness::new(Backend::Sqlite).await;
    copy_plugin(&h, "hostile");
    h.add_bot(
        "fragile",
        &format!(
            "token_env = \"FRAGILE_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\nadmins = [{ADMIN}]\n\
             [[product]]\nid = \"trap\"\ntitle = \"Trap\"\ndescription = \"fails at delivery\"\nprice = 7\nplugin = \"plugins/hostile.wasm\"\n\
             [product.config]\nmode = \"panic\"\nat = \"deliver\"\n"
        ),
    );
    let gw = h.start().await;
    h.say("fragile", ADMIN, "/start");
    let (first, first_update) = h.buy("fragile", 901, "trap").await;
    let (second, _) = h.buy("fragile", 902, "trap").await;
    let alerts = |msgs: &[starsgate_sim::SentMessage]| -> Vec<String> {
        msgs.iter()
            .filter_map(|m| m.text.clone())
            .filter(|t| t.contains("held for your review"))
            .collect()
    };
    let msgs = h
        .wait_for("fragile", ADMIN, "two alerts", |m| alerts(m).len() >= 2)
        .await;
    // The same payment delivered again by Telegram does not alert again.
    h.sim
        .repeat_update(&h.token("fragile"), first_update, false)
        .unwrap();
    let ledger = h.ledger().await;
    eventually("both held", || async {
        let a = payment(&ledger, "fragile", &first).await.status;
        let b = payment(&ledger, "fragile", &second).await.status;
        a == PaymentStatus::NeedsReview && b == PaymentStatus::NeedsReview
    })
    .await;
    let got = alerts(&msgs);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got.iter()
            .any(|t| t.contains(&first) && t.contains("panic")),
        "{got:#?}"
    );
    assert!(got.iter().any(|t| t.contains(&second)), "{got:#?}");
    gw.stop().await;
    let all = h.sim.messages(&h.token("fragile"), ADMIN);
    assert_eq!(
        alerts(&all).len(),
        2,
        "no second alert for a repeated payment"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refund_command_prints_what_the_refund_hook_did_and_ledger_events_shows_it() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, 710, "pro-access").await;
    h.wait_for_deliveries(GUIDES, 710, 1).await;
    gw.stop().await;
    let out = h
        .command()
        .args(["refund", "--bot", GUIDES, "--charge", &charge, "--config"])
        .arg(h.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?} {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Refund hook: ok; plugin log:"), "{stdout}");
    assert!(stdout.contains("revoked role pro for user 710"), "{stdout}");
    let out = h
        .command()
        .args([
            "ledger", "events", "--bot", GUIDES, "--charge", &charge, "--config",
        ])
        .arg(h.dir.path())
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in ["payment_recorded", "delivery_prepared", "refund_hook"] {
        assert!(events.contains(kind), "{kind}: {events}");
    }
    assert!(events.contains("revoked role pro for user 710"), "{events}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_replay_reproduces_a_delivered_purchase_byte_for_byte() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, 720, "pro-access").await;
    let delivered = h.wait_for_deliveries(GUIDES, 720, 1).await;
    gw.stop().await;
    let new_build = Path::new(BUILD_DIR).join("access_role.wasm");
    let out = h
        .command()
        .args([
            "plugin", "replay", "--bot", GUIDES, "--charge", &charge, "--json",
        ])
        .arg("--plugin")
        .arg(&new_build)
        .arg("--config")
        .arg(h.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{v}");
    for run in runs {
        assert_eq!(run["same_as_stored"], true, "{run}");
        assert_eq!(run["delivery"], v["stored"], "{run}");
    }
    // The replayed text is the text the buyer received.
    let text = v["stored"]["items"][0]["text"].as_str().unwrap().to_owned();
    assert!(delivered[0].contains(&text), "{text:?} in {delivered:?}");
    // The same delivery found by its order (the invoice payload).
    let ledger = h.ledger().await;
    let order = payment(&ledger, GUIDES, &charge)
        .await
        .order_id
        .expect("an order");
    let by_order = h
        .command()
        .args([
            "plugin", "replay", "--bot", GUIDES, "--order", &order, "--json",
        ])
        .arg("--config")
        .arg(h.dir.path())
        .output()
        .unwrap();
    assert!(
        by_order.status.success(),
        "{}",
        String::from_utf8_lossy(&by_order.stderr)
    );
    let w: serde_json::Value = serde_json::from_slice(&by_order.stdout).unwrap();
    assert_eq!(w["stored"], v["stored"]);
    assert_eq!(w["runs"][0]["same_as_stored"], true, "{w}");
    h.finish().await;
}
