//! sendPaidMedia and a buyer unlocking a post: the transaction and the `purchased_paid_media`
//! update, and Telegram's refusals.

use serde_json::json;
use starsgate_sim::SimError;

use crate::common::{BUYER, Env, TOKEN};

const GROUP: i64 = -4_200_000;
const CHANNEL: i64 = -1_001_234_567_890;

fn photo(media: &str) -> serde_json::Value {
    json!({ "type": "photo", "media": media })
}

#[tokio::test]
async fn a_post_is_sent_unlocked_once_and_reported_with_its_payload() {
    let env = Env::start().await;
    env.open_chat().await;
    let message = env
        .ok(
            "sendPaidMedia",
            json!({
                "chat_id": BUYER, "star_count": 15, "payload": "pm-1", "caption": "Behind the scenes",
                "media": [photo("https://example.com/a.jpg"), {"type": "video", "media": "https://example.com/b.mp4"}],
            }),
        )
        .await;
    assert_eq!(message["paid_media"]["star_count"], 15);
    assert_eq!(message["caption"], "Behind the scenes");
    let shown = message["paid_media"]["paid_media"].as_array().unwrap();
    assert_eq!(shown[0]["type"], "photo");
    assert_eq!(shown[1]["type"], "video");
    let message_id = message["message_id"].as_i64().unwrap();

    // A file_id the simulator issued can be sent again; as the wrong kind it is refused.
    let video_id = shown[1]["video"]["file_id"].as_str().unwrap();
    env.ok(
        "sendPaidMedia",
        json!({"chat_id": GROUP, "star_count": 1, "media": [{"type": "video", "media": video_id}]}),
    )
    .await;
    let (status, text) = env
        .err(
            "sendPaidMedia",
            json!({"chat_id": GROUP, "star_count": 1, "media": [photo(video_id)]}),
        )
        .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Bad Request: can't use file of type Video as Photo")
    );

    let bought = env
        .sim
        .buy_paid_media(TOKEN, BUYER, BUYER, message_id)
        .unwrap();
    let charge_id = bought.charge_id.expect("the bot is charged");
    let update = env.next_update_of("purchased_paid_media").await;
    assert_eq!(update["from"]["id"], BUYER);
    assert_eq!(update["paid_media_payload"], "pm-1");
    let txs = env.ok("getStarTransactions", json!({})).await;
    let tx = &txs["transactions"][0];
    assert_eq!(tx["id"], charge_id.as_str());
    assert_eq!(tx["amount"], 15);
    assert_eq!(tx["source"]["transaction_type"], "paid_media_payment");
    assert_eq!(tx["source"]["paid_media_payload"], "pm-1");
    assert_eq!(tx["source"]["paid_media"].as_array().unwrap().len(), 2);
    assert_eq!(env.sim.star_balance(TOKEN), 15);
    assert_eq!(
        env.sim.buy_paid_media(TOKEN, BUYER, BUYER, message_id),
        Err(SimError::AlreadyUnlocked {
            user_id: BUYER,
            message_id
        })
    );
}

#[tokio::test]
async fn no_update_without_a_payload_and_nothing_at_all_for_a_channel_post() {
    let env = Env::start().await;
    let in_group = env
        .ok(
            "sendPaidMedia",
            json!({"chat_id": GROUP, "star_count": 3, "media": [photo("https://example.com/a.jpg")]}),
        )
        .await;
    let bought = env
        .sim
        .buy_paid_media(
            TOKEN,
            BUYER,
            GROUP,
            in_group["message_id"].as_i64().unwrap(),
        )
        .unwrap();
    assert!(bought.charge_id.is_some() && bought.update_id.is_none());
    let in_channel = env
        .ok(
            "sendPaidMedia",
            json!({"chat_id": CHANNEL, "star_count": 3, "payload": "x", "media": [photo("https://example.com/a.jpg")]}),
        )
        .await;
    assert_eq!(in_channel["sender_chat"]["type"], "channel");
    let bought = env
        .sim
        .buy_paid_media(
            TOKEN,
            BUYER,
            CHANNEL,
            in_channel["message_id"].as_i64().unwrap(),
        )
        .unwrap();
    assert_eq!((bought.charge_id, bought.update_id), (None, None));
    assert_eq!(
        env.sim.star_balance(TOKEN),
        3,
        "a channel's proceeds are not the bot's"
    );
    assert!(env.drain().await.is_empty());
}

#[tokio::test]
async fn bad_posts_are_refused_as_telegram_refuses_them() {
    let env = Env::start().await;
    let one = || vec![photo("https://example.com/a.jpg")];
    for (params, expected) in [
        (
            json!({"chat_id": GROUP, "star_count": 0, "media": one()}),
            "Bad Request: STARS_AMOUNT_INVALID",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 25_001, "media": one()}),
            "Bad Request: STARS_AMOUNT_INVALID",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": []}),
            "Bad Request: paid media must be non-empty",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": vec![photo("https://example.com/a.jpg"); 11]}),
            "Bad Request: too many paid media: at most 10 are allowed",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": [photo("ftp://example.com/a.jpg")]}),
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": [photo("AgACnever-issued")]}),
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": one(), "payload": "p".repeat(129)}),
            "Bad Request: paid media payload is too long",
        ),
        (
            json!({"chat_id": GROUP, "star_count": 5, "media": one(), "caption": "c".repeat(1025)}),
            "Bad Request: message caption is too long",
        ),
        (
            json!({"chat_id": BUYER, "star_count": 5, "media": one()}),
            "Bad Request: chat not found",
        ),
    ] {
        let (status, text) = env.err("sendPaidMedia", params.clone()).await;
        assert_eq!((status, text.as_str()), (400, expected), "{params}");
    }
    assert!(env.sim.paid_media_posts(TOKEN).is_empty());
}
