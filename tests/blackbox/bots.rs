//! Many bots in one process: Telegram's test environment, a bot that cannot start beside bots
//! that sell normally, and a graceful stop of the real binary.

use std::time::Duration;

use crate::helpers::*;

const GINA: i64 = 9001;

const TEST_ENV_BOT: &str = r#"
token_env = "SANDBOX_TOKEN"
environment = "test"
support = "s"
terms = "t"
[[product]]
id = "sample"
title = "Sample"
description = "A test-environment product."
price = 3
[product.config]
text = "sample delivered"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_environment_bot_talks_to_the_test_path() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot("sandbox", TEST_ENV_BOT);
    let gw = h.start().await;
    h.buy("sandbox", GINA, "sample").await;
    let delivered = h.wait_for_deliveries("sandbox", GINA, 1).await;
    assert!(delivered[0].contains("sample delivered"));
    let calls = h.sim.calls(&h.token("sandbox"));
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.test_env),
        "every call of a test bot uses /bot<token>/test/<method>"
    );
    assert!(
        h.sim.calls(&h.token(GUIDES)).iter().all(|c| !c.test_env),
        "production bots do not"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_whose_token_is_refused_does_not_hold_back_the_others() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(
        "revoked",
        TEST_ENV_BOT
            .replace("SANDBOX_TOKEN", "REVOKED_TOKEN")
            .replace("environment = \"test\"", "")
            .as_str(),
    );
    // The gateway is given a forged token the simulator never registered (the real one plus a
    // digit): every call with it gets 401 Unauthorized, as a revoked token does.
    let revoked = h.token("revoked");
    let forged = format!("{}9", revoked);
    let mut config = h.config();
    for bot in config
        .bots
        .iter_mut()
        .filter(|b| b.id.as_str() == "revoked")
    {
        bot.token = starsgate::config::BotToken::parse(&forged).unwrap();
    }
    let gw = starsgate::App::build(config)
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    h.buy(GAMES, GINA, "starter-pack").await;
    h.wait_for_deliveries(GAMES, GINA, 1).await;
    // The forged token was tried, refused, and tried again; it never acted as the real bot.
    eventually("the forged token to be refused twice", || async {
        h.sim
            .refused_calls(&forged)
            .iter()
            .filter(|m| *m == "getMe")
            .count()
            >= 2
    })
    .await;
    let refused = h.sim.refused_calls(&forged);
    assert!(
        refused.iter().filter(|m| *m == "getMe").count() >= 2,
        "getMe is retried: {refused:?}"
    );
    assert!(
        refused.iter().all(|m| m == "getMe"),
        "nothing but getMe is tried with a refused token: {refused:?}"
    );
    assert!(!gw.store("revoked").is_some_and(|s| s.is_ready()));
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_gateway_gracefully() {
    let h = Harness::new(Backend::Sqlite).await;
    let mut child = h.spawn_process(None);
    h.say(GUIDES, GINA, "/terms");
    h.wait_for(GUIDES, GINA, "the terms", |m| !m.is_empty())
        .await;
    let pid = child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not stop within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
    let ledger = h.ledger().await;
    assert!(
        ledger
            .pending_updates(&bot_id(GUIDES), 10)
            .await
            .unwrap()
            .is_empty(),
        "everything stored was processed"
    );
    h.finish().await;
}
