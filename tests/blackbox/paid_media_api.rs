//! Paid media posts through the admin API: bad posts refused with Telegram's meaning kept,
//! purchases with odd payloads recorded without holding back the inbox, and a linked sale
//! reported to the seller as `payment.succeeded`.

use serde_json::{Value, json};
use starsgate::paid_media::{PostId, PostRequest};
use starsgate::shop::paid_media::send_post;

use crate::helpers::*;
use crate::on_both_ledgers;
use crate::paid_media::purchases;
use crate::seller_events::{Answer, Receiver};

const BEN: i64 = 9402;
const GROUP: i64 = -4_200_042;
const ADMIN_TOKEN: &str = "admin-token-for-paid-media-01";

async fn call(base: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(reqwest::Method::POST, format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the admin listener answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn the_admin_api_posts_refuses_bad_posts_and_odd_purchases_never_block_the_inbox(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    // Webhook mode: setWebhook must ask for purchased_paid_media too.
    h.use_webhooks();
    h.set_gateway("ledger", "reconcile_every_secs", "0");
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", ADMIN_TOKEN);
    let gw = h.start().await;
    let base = format!("http://{}", gw.admin_addr().expect("admin listener"));
    let token = h.token(GUIDES);
    let photo = "https://example.com/a.jpg";
    let (status, body) = call(
        &base,
        "/admin/paid-media",
        json!({"bot": GUIDES, "chat": GROUP, "stars": 7, "media": [photo]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = PostId::parse(body["post_id"].as_str().unwrap_or("")).expect("a post id");
    assert_eq!(body["product"], id.product());

    let eleven: Vec<&str> = vec![photo; 11];
    for (request, expected_status, says) in [
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 0, "media": [photo]}),
            400,
            "stars",
        ),
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 25_001, "media": [photo]}),
            400,
            "25000",
        ),
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 5, "media": []}),
            400,
            "media",
        ),
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 5, "media": eleven}),
            400,
            "at most 10",
        ),
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 5, "media": ["http://example.com/a.jpg"]}),
            400,
            "https",
        ),
        (
            json!({"bot": "nobody", "chat": GROUP, "stars": 5, "media": [photo]}),
            404,
            "no bot",
        ),
        (
            json!({"bot": GUIDES, "chat": BEN, "stars": 5, "media": [photo]}),
            400,
            "chat not found",
        ),
        (
            json!({"bot": GUIDES, "chat": GROUP, "stars": 5, "media": ["AgACnever_issued"]}),
            400,
            "wrong file identifier",
        ),
    ] {
        let (status, body) = call(&base, "/admin/paid-media", request.clone()).await;
        let error = body["error"].as_str().unwrap_or("");
        assert!(
            status == expected_status && error.contains(says),
            "{request} -> {status} {body}"
        );
    }
    assert_eq!(
        h.sim.paid_media_posts(&token).len(),
        1,
        "nothing bad was posted"
    );

    let sent = h.sim.paid_media_posts(&token)[0].clone();
    h.sim.add_user(BEN, "Ben");
    let bought = h
        .sim
        .buy_paid_media(&token, BEN, GROUP, sent.message_id)
        .unwrap();
    let ledger = h.ledger().await;
    let first = wait_for_outcome(&ledger, GUIDES, bought.update_id.expect("an update")).await;
    assert!(first.contains(id.as_str()), "{first}");
    let ben = json!({"id": BEN, "is_bot": false, "first_name": "Ben"});
    // Some clients have seen the payload as `payload`; a payload that is not ours is kept.
    let legacy = h.sim.inject_update(
        &token,
        json!({"purchased_paid_media": {"from": ben, "payload": id.as_str()}}),
    );
    let foreign = h.sim.inject_update(
        &token,
        json!({"purchased_paid_media": {"from": ben, "paid_media_payload": "not-ours"}}),
    );
    assert!(
        wait_for_outcome(&ledger, GUIDES, legacy)
            .await
            .contains(id.as_str())
    );
    let odd = wait_for_outcome(&ledger, GUIDES, foreign).await;
    assert!(odd.contains("none of our posts"), "{odd}");
    h.say(GUIDES, BEN, "/start");
    h.wait_for(GUIDES, BEN, "the inbox to go on", |m| !m.is_empty())
        .await;

    let store = gw.store(GUIDES).unwrap();
    let report = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.paid_media.len(), 1, "{report:?}");
    let all = purchases(&h).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all.iter().filter(|p| p.charge_id.is_some()).count(),
        1,
        "one charge, linked to the oldest purchase"
    );
    let stats: Value = reqwest::Client::new()
        .get(format!("{base}/admin/stats?bot={GUIDES}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = stats["stats"].as_array().cloned().unwrap_or_default();
    let post = rows
        .iter()
        .find(|r| r["product"] == id.product())
        .unwrap_or_else(|| panic!("no paid media row: {stats}"));
    assert_eq!(
        (post["payments"].clone(), post["net_revenue"].clone()),
        (json!(2), json!(14))
    );
    let unknown = rows
        .iter()
        .find(|r| r["product"] == "paid-media:?")
        .unwrap_or_else(|| panic!("no row for the foreign payload: {stats}"));
    assert_eq!(unknown["needs_review"], 1);
    // The dashboard's overview counts the sales as `stats` does: same rows, same net.
    let overview: Value = reqwest::Client::new()
        .get(format!("{base}/admin/overview?bot={GUIDES}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let o = &overview["overview"];
    assert_eq!(
        o["stats"], stats["stats"],
        "the overview's rows are stats' rows"
    );
    let net: i64 = rows.iter().filter_map(|r| r["net_revenue"].as_i64()).sum();
    assert_eq!(o["totals"]["net_stars"].as_i64(), Some(net));
    assert!(
        o["products"].as_array().is_some_and(|p| p
            .iter()
            .any(|s| s["name"] == format!("{GUIDES} / {}", id.product()))),
        "the post has its share of the period: {o}"
    );
    ledger.close().await;
    gw.stop().await;
    h.finish().await;
}

/// The seller hears of a paid media sale once its charge is known (after reconciliation).
async fn a_linked_sale_is_reported_to_the_seller_as_payment_succeeded(backend: Backend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let mut h = Harness::new(backend).await;
    h.set_gateway("ledger", "reconcile_every_secs", "0");
    h.set_secret("GUIDES_EVENTS_SECRET", "whsec_test_0123456789abcdef");
    let path = h.dir.path().join("bots").join("guides.toml");
    let mut text = std::fs::read_to_string(&path).expect("bot file");
    text.push_str(&format!(
        "\n[events]\nurl = \"{}\"\nsecret_env = \"GUIDES_EVENTS_SECRET\"\n",
        receiver.url
    ));
    std::fs::write(&path, text).expect("write bot file");
    let gw = h.start().await;
    let store = gw.store(GUIDES).unwrap();
    let token = h.token(GUIDES);
    let post = PostRequest::parse(
        &GROUP.to_string(),
        7,
        None,
        &["https://example.com/a.jpg".into()],
    )
    .unwrap();
    let posted = send_post(&store, &post, "test").await.expect("posted");
    h.sim.add_user(BEN, "Ben");
    let bought = h
        .sim
        .buy_paid_media(&token, BEN, GROUP, posted.message_id)
        .unwrap();
    let ledger = h.ledger().await;
    wait_for_outcome(&ledger, GUIDES, bought.update_id.expect("an update")).await;
    assert!(
        receiver.received().is_empty(),
        "no event before the charge is known"
    );
    starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    let got = receiver.wait_for(1).await;
    let event = &got[0];
    assert_eq!(event.verified, Ok(()));
    assert_eq!(event.body["type"], "payment.succeeded");
    let data = &event.body["data"];
    assert_eq!(data["product"], posted.id.product());
    assert_eq!(data["charge_id"], bought.charge_id.unwrap().as_str());
    assert_eq!(
        (data["amount"].clone(), data["user_id"].clone()),
        (json!(7), json!(BEN))
    );
    ledger.close().await;
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    the_admin_api_posts_refuses_bad_posts_and_odd_purchases_never_block_the_inbox,
    a_linked_sale_is_reported_to_the_seller_as_payment_succeeded,
);
