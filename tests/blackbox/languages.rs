//! Stores in the buyer's language and command menus (issue 21): `[texts.<lang>]`,
//! `[product.i18n.<lang>]`, the gateway's message catalogue, and setMyCommands per language.

use serde_json::json;
use starsgate_sim::{Fault, PayOutcome};

use crate::helpers::*;
use crate::on_both_ledgers;

const IVAN: i64 = 9201;
const HANS: i64 = 9202;

const RU_GREETING: &str = "Добро пожаловать в гайды!";
const RU_SUPPORT: &str = "Пишите @guides_help, вернём деньги за 14 дней.";
const RU_TITLE: &str = "Гайд по интеграции";
const RU_REFUSAL: &str = "Этот товар сейчас нельзя купить. Деньги не списаны.";
const EN_REFUSAL: &str = "This item can't be bought right now. You have not been charged.";

/// Gives the guides store Russian texts and a Russian title for `premium-guide`.
fn speak_russian(h: &Harness) {
    let path = h.dir.path().join("bots").join("guides.toml");
    let text = std::fs::read_to_string(&path).expect("guides.toml");
    let text = text.replacen(
        "label = \"Download the guide\"\n",
        &format!(
            "label = \"Download the guide\"\n[product.i18n.ru]\ntitle = \"{RU_TITLE}\"\ndescription = \"Полный PDF-гайд по платёжным API.\"\n"
        ),
        1,
    );
    let text =
        format!("{text}\n[texts.ru]\ngreeting = \"{RU_GREETING}\"\nsupport = \"{RU_SUPPORT}\"\n");
    std::fs::write(&path, text).expect("write guides.toml");
}

/// Pays for an invoice whose payload is not one of the gateway's orders: always refused with the
/// generic refusal, in the buyer's language.
async fn refusal_for(h: &Harness, user: i64) -> String {
    let sent = bot_api(
        &h.sim,
        &h.token(GUIDES),
        "sendInvoice",
        json!({
            "chat_id": user, "title": "Forged", "description": "Not from the gateway",
            "payload": "forged-order-id", "currency": "XTR", "prices": [{"label": "x", "amount": 5}]
        }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    match h.pay_latest(GUIDES, user).await {
        PayOutcome::Rejected { error_message } => error_message,
        other => panic!("a forged order must be refused: {other:?}"),
    }
}

async fn a_russian_buyer_gets_the_store_in_russian_and_another_language_the_defaults(
    backend: Backend,
) {
    let h = Harness::new(backend).await;
    speak_russian(&h);
    h.sim.set_user_language(IVAN, "ru-RU");
    h.sim.set_user_language(HANS, "de");
    let gw = h.start().await;

    h.say(GUIDES, IVAN, "/start");
    let ru = h
        .wait_for(GUIDES, IVAN, "the catalogue", |m| !m.is_empty())
        .await;
    let catalogue = ru[0].text.clone().unwrap_or_default();
    assert!(catalogue.starts_with(RU_GREETING), "{catalogue}");
    assert!(catalogue.contains(RU_TITLE), "{catalogue}");
    assert!(
        catalogue.contains("Starter pack"),
        "a product without Russian texts keeps its own: {catalogue}"
    );
    let buttons = ru[0].reply_markup.clone().unwrap_or_default().to_string();
    assert!(
        buttons.contains(&format!("Купить {RU_TITLE} за 50 ⭐")),
        "{buttons}"
    );

    h.say(GUIDES, HANS, "/start");
    let de = h
        .wait_for(GUIDES, HANS, "the catalogue", |m| !m.is_empty())
        .await;
    let catalogue = de[0].text.clone().unwrap_or_default();
    assert!(
        catalogue.starts_with("Welcome to Payment Guides!"),
        "{catalogue}"
    );
    assert!(
        catalogue.contains("Python Integration Guide"),
        "{catalogue}"
    );

    h.say(GUIDES, IVAN, "/paysupport");
    h.wait_for(GUIDES, IVAN, "the Russian support text", |m| {
        m.iter().any(|m| m.text.as_deref() == Some(RU_SUPPORT))
    })
    .await;
    h.say(GUIDES, IVAN, "/buy nothing-here");
    h.wait_for(GUIDES, IVAN, "the Russian unknown-product answer", |m| {
        m.iter().any(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.starts_with("Товара «nothing-here»"))
        })
    })
    .await;

    h.say(GUIDES, IVAN, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, IVAN, 1).await;
    h.say(GUIDES, HANS, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, HANS, 1).await;
    let invoices = h.sim.invoices(&h.token(GUIDES));
    let title_for = |user: i64| {
        invoices
            .iter()
            .find(|i| i.chat_id == Some(user))
            .map(|i| i.title.clone())
    };
    assert_eq!(title_for(IVAN).as_deref(), Some(RU_TITLE));
    assert_eq!(title_for(HANS).as_deref(), Some("Python Integration Guide"));

    assert_eq!(refusal_for(&h, IVAN).await, RU_REFUSAL);
    assert_eq!(refusal_for(&h, HANS).await, EN_REFUSAL);
    gw.stop().await;
    h.finish().await;
}

async fn a_bot_can_override_the_gateways_messages_per_language(backend: Backend) {
    let h = Harness::new(backend).await;
    let path = h.dir.path().join("bots").join("guides.toml");
    let text = std::fs::read_to_string(&path).expect("guides.toml");
    std::fs::write(
        &path,
        format!("{text}\n[texts.ru]\nrefusal = \"Не получилось, деньги целы.\"\n"),
    )
    .expect("write guides.toml");
    h.sim.set_user_language(IVAN, "ru");
    let gw = h.start().await;
    h.say(GUIDES, IVAN, "/start");
    h.wait_for(GUIDES, IVAN, "the catalogue", |m| !m.is_empty())
        .await;
    assert_eq!(refusal_for(&h, IVAN).await, "Не получилось, деньги целы.");
    gw.stop().await;
    h.finish().await;
}

async fn each_bot_sets_its_command_menu_per_language_and_again_after_a_reload(backend: Backend) {
    let h = Harness::new(backend).await;
    let guides = h.token(GUIDES);
    let games = h.token(GAMES);
    // Telegram refuses the first two attempts: the menu is retried, and the bot sells meanwhile.
    // (A 400, because teloxide itself waits 10 s after any 5xx.)
    h.sim.inject_fault(
        &guides,
        "setMyCommands",
        Fault::BadRequest {
            description: "Bad Request: try again later".into(),
            times: 2,
        },
    );
    let gw = h.start().await;
    h.say(GUIDES, IVAN, "/terms");
    h.wait_for(GUIDES, IVAN, "the terms", |m| !m.is_empty())
        .await;
    let names = |menu: &[(String, String)]| -> Vec<String> {
        menu.iter().map(|(c, _)| c.clone()).collect()
    };
    eventually("the guides menus in English and Russian", || async {
        h.sim.menu(&guides, "en").len() == 4 && h.sim.menu(&guides, "ru").len() == 4
    })
    .await;
    assert_eq!(
        names(&h.sim.menu(&guides, "en")),
        ["start", "paysupport", "terms", "subscriptions"],
        "a bot selling a membership lists /subscriptions"
    );
    assert_eq!(h.sim.menu(&guides, "ru")[0].1, "Что продаётся");
    assert_eq!(h.sim.menu(&guides, "en")[0].1, "What is for sale");
    assert_eq!(
        h.sim.menu(&guides, "de"),
        h.sim.menu(&guides, "en"),
        "a language without texts gets the default menu"
    );
    eventually("the games menu", || async {
        !h.sim.menu(&games, "en").is_empty()
    })
    .await;
    assert_eq!(
        names(&h.sim.menu(&games, "en")),
        ["start", "paysupport", "terms"],
        "no /subscriptions where none is sold"
    );
    let calls_before = h
        .sim
        .calls(&games)
        .iter()
        .filter(|c| c.method == "setMyCommands")
        .count();

    let path = h.dir.path().join("bots").join("guides.toml");
    let text = std::fs::read_to_string(&path).expect("guides.toml");
    std::fs::write(
        &path,
        format!("{text}\n[texts.de]\ncommand_start = \"Was es zu kaufen gibt\"\n"),
    )
    .expect("write guides.toml");
    let report = gw.reload().await;
    assert!(report.rejected.is_empty(), "{report}");
    eventually("the German menu after the reload", || async {
        h.sim
            .menu(&guides, "de")
            .first()
            .is_some_and(|(_, d)| d == "Was es zu kaufen gibt")
    })
    .await;
    assert_eq!(h.sim.menu(&guides, "en")[0].1, "What is for sale");
    // An unchanged bot does not set its menus again.
    let calls_after = h
        .sim
        .calls(&games)
        .iter()
        .filter(|c| c.method == "setMyCommands")
        .count();
    assert_eq!(calls_before, calls_after, "idempotent for an unchanged bot");
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_russian_buyer_gets_the_store_in_russian_and_another_language_the_defaults,
    a_bot_can_override_the_gateways_messages_per_language,
    each_bot_sets_its_command_menu_per_language_and_again_after_a_reload,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_every_languages_texts() {
    let h = Harness::new(Backend::Sqlite).await;
    let path = h.dir.path().join("bots").join("guides.toml");
    let text = std::fs::read_to_string(&path).expect("guides.toml");
    let long_title = "Т".repeat(33);
    let text = text.replacen(
        "label = \"Download the guide\"\n",
        &format!("label = \"Download the guide\"\n[product.i18n.ru]\ntitle = \"{long_title}\"\n"),
        1,
    );
    std::fs::write(
        &path,
        format!(
            "{text}\n[texts.ru]\nsupport = \"\"\nrefusal = \"{}\"\nbuy_button = \"Купить {{name}}\"\nfarewell = \"Пока\"\n\n[texts.Russian]\ngreeting = \"Hi\"\n",
            "Нет. ".repeat(50)
        ),
    )
    .expect("write guides.toml");
    let out = std::process::Command::new(starsgate_binary())
        .env_clear()
        .args(["check", "--without-secrets", "--config"])
        .arg(h.dir.path())
        .current_dir(h.dir.path())
        .output()
        .expect("run starsgate check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for expected in [
        "product[0].i18n.ru.title: ",
        "texts.ru.support: must be 1-4096 characters",
        "texts.ru.refusal: must be 1-200 characters",
        "texts.ru.buy_button: {name} is not a placeholder of this message",
        "texts.ru.farewell: unknown key",
        "texts.Russian: must be a language",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    h.finish().await;
}
