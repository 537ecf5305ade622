//! The `quote` hook of plugin contract 0.2.0 (issue 19): a plugin's price is invoiced, charged,
//! recorded and seen by delivery; a quote that traps, times out or is invalid refuses the
//! invoice with the generic message; 0.1 plugins keep working beside 0.2 ones.

use std::path::Path;

use starsgate::plugins::Plugin;
use starsgate::plugins::bundled::{self, BUILD_DIR};
use starsgate::plugins::wasm::{Limits, PluginHost};
use starsgate::pricing::DiscountSource;
use starsgate_sim::PayOutcome;

use crate::helpers::*;
use crate::on_both_ledgers;

const SHOP: &str = "early-shop";
const GENERIC: &str = "This item can't be bought right now. You have not been charged.";

fn copy_quoter(h: &Harness) {
    let dir = h.dir.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        Path::new(BUILD_DIR).join("quoter.wasm"),
        dir.join("quoter.wasm"),
    )
    .unwrap();
}

/// `early` sells its first unit at a launch price (bundled 0.2 plugin), `classic` runs the
/// bundled 0.1 `static-link`, and one product per `quoter` mode.
fn shop(h: &Harness, modes: &[&str]) -> String {
    copy_quoter(h);
    let mut toml = String::from(
        "token_env = \"EARLY_SHOP_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n\
         [[product]]\nid = \"early\"\ntitle = \"Early\"\ndescription = \"Launch\"\nprice = 50\nplugin = \"bundled:launch-price\"\n\
         [product.config]\nlaunch_price = 10\nlaunch_units = 1\ntext = \"Thanks for buying early!\"\n\
         [[product]]\nid = \"classic\"\ntitle = \"Classic\"\ndescription = \"0.1\"\nprice = 20\nplugin = \"bundled:static-link\"\n\
         [product.config]\ntext = \"Classic delivered.\"\nurl = \"https://example.com/classic\"\n\
         [[promo]]\ncode = \"HALF\"\npercent_off = 50\n",
    );
    for (i, mode) in modes.iter().enumerate() {
        toml.push_str(&format!(
            "[[product]]\nid = \"q{i}\"\ntitle = \"Q{i}\"\ndescription = \"quote {mode}\"\nprice = 30\nplugin = \"plugins/quoter.wasm\"\n[product.config]\nquote = \"{mode}\"\n"
        ));
    }
    toml
}

async fn a_quoted_price_is_invoiced_charged_recorded_and_delivered(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let bot = shop(&h, &["price:7"]);
    h.add_bot(SHOP, &bot);
    let gw = h.start().await;
    let token = h.token(SHOP);
    // The first buyer gets the launch price; the launch (one unit) is then over.
    h.buy(SHOP, 8101, "early").await;
    let delivered = h.wait_for_deliveries(SHOP, 8101, 1).await;
    assert!(delivered[0].contains("Thanks for buying early!"));
    h.say(SHOP, 8102, "/buy early");
    h.wait_for_invoice(SHOP, 8102, 1).await;
    // A quoter's own price reaches its delivery as the order's amount.
    h.buy(SHOP, 8103, "q0").await;
    let delivered = h.wait_for_deliveries(SHOP, 8103, 1).await;
    assert!(
        delivered[0].contains("Sold at 7 Stars, paid 7."),
        "{delivered:?}"
    );
    let invoices = h.sim.invoices(&token);
    let amounts: Vec<i64> = invoices.iter().map(|i| i.amount).collect();
    assert_eq!(amounts, [10, 50, 7]);
    assert_eq!(
        invoices[0].params["prices"][0]["label"], "Launch price",
        "{:?}",
        invoices[0]
    );
    h.settle().await;
    let ledger = h.ledger().await;
    let payments = ledger.payments(Some(&bot_id(SHOP))).await.unwrap();
    let early = payments
        .iter()
        .find(|p| p.product.as_deref() == Some("early"))
        .unwrap();
    assert_eq!(early.amount, 10);
    assert_eq!(early.pricing.list_price, 50);
    assert_eq!(early.pricing.discount_source, Some(DiscountSource::Plugin));
    assert_eq!(early.pricing.promo_code, None);
    gw.stop().await;
    h.finish().await;
}

async fn a_promo_code_reaches_the_quote_and_its_price_is_kept_when_lower(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let bot = shop(&h, &[]);
    h.add_bot(SHOP, &bot);
    let gw = h.start().await;
    // Launch price 10 beats HALF (25): the plugin's price, with the code recorded.
    h.say(SHOP, 8201, "/buy early half");
    let msgs = h.wait_for_invoice(SHOP, 8201, 1).await;
    let invoice = msgs.iter().find_map(|m| m.invoice.clone()).unwrap();
    assert_eq!(invoice.amount, 10);
    assert!(matches!(
        h.pay_latest(SHOP, 8201).await,
        PayOutcome::Paid { .. }
    ));
    // After the launch HALF applies: the plugin keeps the code's price.
    h.say(SHOP, 8202, "/buy early HALF");
    let msgs = h.wait_for_invoice(SHOP, 8202, 1).await;
    let invoice = msgs.iter().find_map(|m| m.invoice.clone()).unwrap();
    assert_eq!(invoice.amount, 25);
    assert!(matches!(
        h.pay_latest(SHOP, 8202).await,
        PayOutcome::Paid { .. }
    ));
    h.settle().await;
    let ledger = h.ledger().await;
    let payments = ledger.payments(Some(&bot_id(SHOP))).await.unwrap();
    let sources: Vec<_> = payments
        .iter()
        .map(|p| {
            (
                p.amount,
                p.pricing.promo_code.as_ref().map(|c| c.to_string()),
                p.pricing.discount_source,
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            (10, Some("HALF".into()), Some(DiscountSource::Plugin)),
            (25, Some("HALF".into()), Some(DiscountSource::Promo)),
        ]
    );
    gw.stop().await;
    h.finish().await;
}

async fn a_0_1_plugin_runs_unchanged_beside_0_2_plugins(backend: Backend) {
    // Each component is bound by the contract version it exports.
    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(cache.path(), Limits::default()).unwrap();
    for (name, version, quotes) in [
        ("static-link", "0.1.0", false),
        ("limited-stock", "0.1.0", false),
        ("launch-price", "0.2.0", true),
    ] {
        let plugin = host.load(bundled::get(name).unwrap()).unwrap();
        assert_eq!(
            (plugin.api_version(), plugin.quotes()),
            (version, quotes),
            "{name}"
        );
    }
    let mut h = Harness::new(backend).await;
    let bot = shop(&h, &["keep"]);
    h.add_bot(SHOP, &bot);
    let gw = h.start().await;
    // One buyer buys from the 0.1 plugin, the 0.2 launch-price and a 0.2 plugin that keeps
    // the list price, in one store; the example stores' 0.1 plugins sell as before.
    h.buy(SHOP, 8401, "classic").await;
    h.buy(SHOP, 8401, "early").await;
    h.buy(SHOP, 8401, "q0").await;
    h.buy(GUIDES, 8401, "premium-guide").await;
    let delivered = h.wait_for_deliveries(SHOP, 8401, 3).await;
    assert!(delivered.iter().any(|d| d.contains("Classic delivered.")));
    assert!(
        delivered
            .iter()
            .any(|d| d.contains("Thanks for buying early!"))
    );
    assert!(
        delivered
            .iter()
            .any(|d| d.contains("Sold at 30 Stars, paid 30."))
    );
    h.wait_for_deliveries(GUIDES, 8401, 1).await;
    let amounts: Vec<i64> = h
        .sim
        .invoices(&h.token(SHOP))
        .iter()
        .map(|i| i.amount)
        .collect();
    assert_eq!(amounts, [20, 10, 30]);
    h.settle().await;
    let ledger = h.ledger().await;
    let classic = ledger
        .payments(Some(&bot_id(SHOP)))
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.product.as_deref() == Some("classic"))
        .unwrap();
    assert_eq!(
        (
            classic.amount,
            classic.pricing.list_price,
            classic.pricing.discount_source
        ),
        (20, 20, None)
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_0_1_plugin_runs_unchanged_beside_0_2_plugins,
    a_quoted_price_is_invoiced_charged_recorded_and_delivered,
    a_promo_code_reaches_the_quote_and_its_price_is_kept_when_lower,
);

/// A quote that traps, runs out of budget or names an impossible price never becomes an
/// invoice: the buyer gets the generic refusal; a plugin's refusal text is shown as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_that_traps_or_prices_nonsense_refuses_the_invoice() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let bot = shop(&h, &["trap", "loop", "zero", "price:25001", "refuse"]);
    h.add_bot(SHOP, &bot);
    let gw = h.start().await;
    let token = h.token(SHOP);
    for (i, expected) in [GENERIC, GENERIC, GENERIC, GENERIC, "Not for you today."]
        .iter()
        .enumerate()
    {
        let user = 8300 + i as i64;
        h.say(SHOP, user, &format!("/buy q{i}"));
        h.wait_for(SHOP, user, expected, |m| {
            m.iter().any(|m| m.text.as_deref() == Some(*expected))
        })
        .await;
    }
    assert!(
        h.sim.invoices(&token).is_empty(),
        "no invoice at a price nobody decided"
    );
    // The 0.1 plugin beside them sells as before.
    h.buy(SHOP, 8310, "classic").await;
    let delivered = h.wait_for_deliveries(SHOP, 8310, 1).await;
    assert!(delivered[0].contains("Classic delivered."), "{delivered:?}");
    gw.stop().await;
    h.finish().await;
}

/// `check` asks a 0.2 plugin for one quote with the product's config, as it asks every plugin
/// for one pre-checkout: a quote that traps or prices nonsense is a problem of the product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_asks_each_quote_plugin_for_one_quote() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let bot = shop(&h, &["price:7", "trap", "zero"]);
    h.add_bot(SHOP, &bot);
    let out = h
        .command()
        .args(["check", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "early-shop.toml: product[3].plugin: quote with this product's config: the plugin trapped",
        "early-shop.toml: product[4].plugin: quote with this product's config: the plugin's output is invalid: price must be at least 1 Star, got 0",
    ] {
        assert!(stderr.contains(expected), "{expected}\nin:\n{stderr}");
    }
    assert!(!stderr.contains("product[2]"), "{stderr}");
    h.finish().await;
}
