//! Live configuration: changes applied bot by bot while the other bots keep selling.

use std::time::Duration;

use starsgate_sim::PayOutcome;

use crate::helpers::*;

fn edit(h: &Harness, bot: &str, from: &str, to: &str) {
    let path = h.dir.path().join("bots").join(format!("{bot}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{bot}.toml has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

async fn paid(h: &Harness, bot: &str, user: i64) -> String {
    match h.pay_latest(bot, user).await {
        PayOutcome::Paid { charge_id, .. } => charge_id,
        other => panic!("{bot}/{user}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_applies_to_new_invoices_while_open_ones_settle_at_their_price() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    // Mid-purchase in both bots.
    h.say(GUIDES, 4001, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 4001, 1).await;
    h.say(GAMES, 4002, "/buy gold-chest");
    h.wait_for_invoice(GAMES, 4002, 1).await;
    edit(&h, GUIDES, "price = 50", "price = 60");
    let report = gw.reload().await;
    assert_eq!(report.changed, vec![GUIDES.to_owned()], "{report}");
    assert!(
        report.unchanged.contains(&GAMES.to_owned()) && report.rejected.is_empty(),
        "{report}"
    );
    let old = paid(&h, GUIDES, 4001).await;
    let other = paid(&h, GAMES, 4002).await;
    h.say(GUIDES, 4003, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 4003, 1).await;
    let new = paid(&h, GUIDES, 4003).await;
    for (bot, user) in [(GUIDES, 4001), (GAMES, 4002), (GUIDES, 4003)] {
        assert_eq!(h.wait_for_deliveries(bot, user, 1).await.len(), 1);
    }
    let ledger = h.ledger().await;
    assert_eq!(
        payment(&ledger, GUIDES, &old).await.amount,
        50,
        "the open invoice settled at its price"
    );
    assert_eq!(
        payment(&ledger, GUIDES, &new).await.amount,
        60,
        "new invoices use the new price"
    );
    assert_eq!(payment(&ledger, GAMES, &other).await.amount, 120);
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_added_and_another_removed_while_a_third_keeps_selling() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot("third", "token_env = \"THIRD_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n[[product]]\nid = \"p\"\ntitle = \"P\"\ndescription = \"d\"\nprice = 3\n[product.config]\ntext = \"third delivered\"\n");
    // The newcomer's token exists from the start (as an operator would export it); its file
    // arrives later.
    h.add_bot("newcomer", "token_env = \"NEWCOMER_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n[[product]]\nid = \"n\"\ntitle = \"N\"\ndescription = \"d\"\nprice = 4\n[product.config]\ntext = \"newcomer delivered\"\n");
    let parked = h.dir.path().join("newcomer.toml.parked");
    std::fs::rename(h.dir.path().join("bots/newcomer.toml"), &parked).unwrap();
    let gw = h.start().await;
    // The games bot has a paid order whose delivery is held back when its file is removed.
    h.say(GAMES, 4101, "/buy starter-pack");
    h.wait_for_invoice(GAMES, 4101, 1).await;
    h.sim.inject_fault(
        &h.token(GAMES),
        "sendMessage",
        starsgate_sim::Fault::TooManyRequests {
            retry_after: 1,
            times: 2,
        },
    );
    let games_charge = paid(&h, GAMES, 4101).await;
    let ledger = h.ledger().await;
    eventually("the games payment to be recorded", || async {
        status(&ledger, GAMES, &games_charge).await.is_some()
    })
    .await;
    std::fs::rename(&parked, h.dir.path().join("bots/newcomer.toml")).unwrap();
    std::fs::remove_file(h.dir.path().join("bots/games.toml")).unwrap();
    let selling = {
        let h = &h;
        async move {
            for user in 4200..4205 {
                h.buy("third", user, "p").await;
            }
        }
    };
    let (report, ()) = tokio::join!(gw.reload(), selling);
    assert_eq!(report.added, vec!["newcomer".to_owned()], "{report}");
    assert_eq!(report.removed, vec![GAMES.to_owned()], "{report}");
    for user in 4200..4205 {
        assert_eq!(
            h.wait_for_deliveries("third", user, 1).await.len(),
            1,
            "the third bot kept selling"
        );
    }
    h.buy("newcomer", 4301, "n").await;
    assert!(h.wait_for_deliveries("newcomer", 4301, 1).await[0].contains("newcomer delivered"));
    // The removed bot finished its paid delivery, exactly once.
    let delivered = h.wait_for_deliveries(GAMES, 4101, 1).await;
    assert_eq!(delivered.len(), 1);
    h.settle().await;
    assert_eq!(h.deliveries(GAMES, 4101).len(), 1);
    assert_eq!(
        payment(&ledger, GAMES, &games_charge).await.status,
        starsgate::ledger::PaymentStatus::Delivered
    );
    // And it takes no new updates: its runtime has ended (it gives its lease up only after its
    // poller stopped), and a message to it stays at Telegram while a running bot answers a
    // message sent after it.
    eventually("the removed bot to give up its lease", || async {
        matches!(ledger.bot_holder(&bot_id(GAMES)).await, Ok(None))
    })
    .await;
    let pending = h.sim.pending_updates(&h.token(GAMES));
    h.say(GAMES, 4102, "/start");
    h.say("third", 4102, "/start");
    h.wait_for("third", 4102, "the running bot's answer", |m| !m.is_empty())
        .await;
    assert!(
        h.sim.messages(&h.token(GAMES), 4102).is_empty(),
        "a removed bot does not answer"
    );
    assert_eq!(
        h.sim.pending_updates(&h.token(GAMES)),
        pending + 1,
        "nobody took the update from Telegram"
    );
    assert!(gw.store(GAMES).is_none());
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_bot_file_is_rejected_without_touching_the_running_bot() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", "reload-admin-token-0123");
    let gw = h.start().await;
    edit(&h, GUIDES, "price = 50", "price = 0\nsurprise = true");
    edit(&h, GAMES, "[[product]]", "[[product]\nbroken");
    let report = gw.reload().await;
    assert!(
        report.changed.is_empty() && report.removed.is_empty(),
        "{report}"
    );
    assert!(
        report
            .rejected
            .iter()
            .any(|p| p.contains("guides.toml") && p.contains("surprise")),
        "{report}"
    );
    assert!(
        report.rejected.iter().any(|p| p.contains("games.toml")),
        "{report}"
    );
    // The admin API reports it too.
    let url = format!("http://{}/admin/reload", gw.admin_addr().unwrap());
    let seen: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth("reload-admin-token-0123")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        seen["last_reload"]["rejected"]
            .to_string()
            .contains("surprise"),
        "{seen}"
    );
    h.say(GUIDES, 4401, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 4401, 1).await;
    assert_eq!(
        h.sim.invoices(&h.token(GUIDES))[0].amount,
        50,
        "still the old price"
    );
    h.buy(GAMES, 4402, "gold-chest").await;
    h.wait_for_deliveries(GAMES, 4402, 1).await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_swapped_by_config_serves_new_orders_and_old_orders_keep_theirs() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, 4501, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 4501, 1).await;
    // From the bundled static-link plugin to the built-in delivery with other text.
    edit(&h, GUIDES, "plugin = \"bundled:static-link\"", "");
    edit(&h, GUIDES, "label = \"Download the guide\"", "");
    edit(
        &h,
        GUIDES,
        "text = \"Your guide is ready.",
        "text = \"Second edition. Your guide is ready.",
    );
    let report = gw.reload().await;
    assert_eq!(report.changed, vec![GUIDES.to_owned()], "{report}");
    paid(&h, GUIDES, 4501).await;
    let old = h.wait_for_deliveries(GUIDES, 4501, 1).await;
    assert!(
        !old[0].contains("Second edition"),
        "the open order keeps the plugin and config it was sold with: {old:?}"
    );
    h.say(GUIDES, 4502, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 4502, 1).await;
    paid(&h, GUIDES, 4502).await;
    let new = h.wait_for_deliveries(GUIDES, 4502, 1).await;
    assert!(new[0].contains("Second edition"), "{new:?}");
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_setting_that_cannot_change_live_is_reported_as_needing_a_restart() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.set_gateway("ledger", "lease_secs", "30");
    let report = gw.reload().await;
    assert_eq!(
        report.needs_restart,
        vec!["ledger.lease_secs".to_owned()],
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("needs a restart to apply: ledger.lease_secs")
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_starsgate_reload_apply_a_change_to_the_running_binary() {
    let h = Harness::new(Backend::Sqlite).await;
    let mut child = h.spawn_process(None);
    h.say(GUIDES, 4601, "/terms");
    h.wait_for(GUIDES, 4601, "the terms", |m| !m.is_empty())
        .await;
    edit(
        &h,
        GUIDES,
        "terms = \"Digital goods;",
        "terms = \"Updated terms. Digital goods;",
    );
    let out = std::process::Command::new(starsgate_binary())
        .args(["reload", "--config"])
        .arg(h.dir.path())
        .envs([
            ("GUIDES_BOT_TOKEN", h.token(GUIDES)),
            ("GAMES_BOT_TOKEN", h.token(GAMES)),
        ])
        .env(
            "STARSGATE_PLUGINS__CACHE_DIR",
            h.dir.path().join("plugin-cache"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the new terms", || async {
        h.say(GUIDES, 4601, "/terms");
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.sim.messages(&h.token(GUIDES), 4601).iter().any(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.starts_with("Updated terms"))
        })
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    h.finish().await;
}
