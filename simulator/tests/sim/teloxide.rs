//! teloxide is strict about shapes, so a real teloxide `Bot` talking to the simulator proves
//! that every update kind and method result is exactly Telegram-shaped.

use serde_json::json;
use starsgate_sim::{Fault, InvoiceRef, PayOutcome};
use teloxide_core::prelude::Requester;
use teloxide_core::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, MaybeInaccessibleMessage,
    MediaKind, MessageEntityKind, MessageKind, Seconds, TransactionPartner,
    TransactionPartnerUserKind, Update, UpdateKind, UserId,
};
use teloxide_core::{
    ApiError, Bot, RequestError,
    payloads::{CreateInvoiceLinkSetters, GetUpdatesSetters, SendMessageSetters},
};

use crate::common::{BUYER, Env, TOKEN};

async fn next(bot: &Bot, offset: &mut i32) -> Update {
    let updates = bot.get_updates().offset(*offset).timeout(5).await.unwrap();
    let update = updates.into_iter().next().expect("an update");
    *offset = update.id.0 as i32 + 1;
    update
}

#[tokio::test]
async fn teloxide_parses_every_update_kind_and_method_result() {
    let env = Env::start().await;
    let bot = Bot::new(TOKEN).set_api_url(env.sim.api_url());
    let mut offset = 0;

    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "shop_bot");
    assert_eq!(me.id, UserId(111));

    // A command message.
    env.sim.send_text(TOKEN, BUYER, "/start");
    let UpdateKind::Message(start) = next(&bot, &mut offset).await.kind else {
        panic!("not a message")
    };
    assert_eq!(start.text(), Some("/start"));
    assert!(matches!(
        start.entities().unwrap()[0].kind,
        MessageEntityKind::BotCommand
    ));
    assert_eq!(start.chat.id, ChatId(BUYER));

    // A text message with an inline keyboard, then a button press.
    let keyboard =
        InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Buy", "buy:guide")]]);
    let shop = bot
        .send_message(ChatId(BUYER), "Shop")
        .reply_markup(keyboard)
        .await
        .unwrap();
    let MessageKind::Common(common) = &shop.kind else {
        panic!("not a common message")
    };
    assert!(matches!(common.media_kind, MediaKind::Text(_)));
    assert!(common.reply_markup.is_some());
    env.sim
        .press_button(TOKEN, BUYER, i64::from(shop.id.0), "buy:guide")
        .unwrap();
    let UpdateKind::CallbackQuery(query) = next(&bot, &mut offset).await.kind else {
        panic!("not a callback")
    };
    assert_eq!(query.data.as_deref(), Some("buy:guide"));
    assert!(matches!(
        query.message,
        Some(MaybeInaccessibleMessage::Regular(_))
    ));
    bot.answer_callback_query(query.id).await.unwrap();

    // An invoice message, a pre-checkout query, a successful payment.
    let invoice = bot
        .send_invoice(
            ChatId(BUYER),
            "Guide",
            "A PDF guide",
            "order-1",
            "XTR",
            [LabeledPrice::new("Guide", 50)],
        )
        .await
        .unwrap();
    let MessageKind::Invoice(inv) = &invoice.kind else {
        panic!("not an invoice: {:?}", invoice.kind)
    };
    assert_eq!(inv.invoice.total_amount, 50);
    let sim = env.sim.clone();
    let paying = tokio::spawn(async move { sim.pay(TOKEN, BUYER, &InvoiceRef::Latest).await });
    let UpdateKind::PreCheckoutQuery(pcq) = next(&bot, &mut offset).await.kind else {
        panic!("not a pre-checkout")
    };
    assert_eq!((pcq.currency.as_str(), pcq.total_amount), ("XTR", 50));
    bot.answer_pre_checkout_query(pcq.id, true).await.unwrap();
    let PayOutcome::Paid { charge_id, .. } = paying.await.unwrap().unwrap() else {
        panic!("not paid")
    };
    let UpdateKind::Message(paid) = next(&bot, &mut offset).await.kind else {
        panic!("not a message")
    };
    let MessageKind::SuccessfulPayment(sp) = &paid.kind else {
        panic!("not a payment: {:?}", paid.kind)
    };
    assert_eq!(
        sp.successful_payment.telegram_payment_charge_id.0,
        charge_id
    );
    assert!(!sp.successful_payment.is_recurring);

    // Refund, then the refunded_payment message, and CHARGE_ALREADY_REFUNDED as teloxide sees it.
    bot.refund_star_payment(UserId(BUYER as u64), charge_id.clone().into())
        .await
        .unwrap();
    let again = bot
        .refund_star_payment(UserId(BUYER as u64), charge_id.clone().into())
        .await;
    match again {
        Err(RequestError::Api(ApiError::Unknown(text))) => {
            assert_eq!(text, "Bad Request: CHARGE_ALREADY_REFUNDED");
        }
        other => panic!("unexpected {other:?}"),
    }
    let UpdateKind::Message(refunded) = next(&bot, &mut offset).await.kind else {
        panic!("not a message")
    };
    let MessageKind::RefundedPayment(rp) = &refunded.kind else {
        panic!("not a refund: {:?}", refunded.kind)
    };
    assert_eq!(rp.refunded_payment.total_amount, 50);

    // The ledger and the balance.
    let transactions = bot.get_star_transactions().await.unwrap().transactions;
    assert_eq!(transactions.len(), 2);
    let Some(TransactionPartner::User(source)) = &transactions[0].source else {
        panic!("no source")
    };
    assert!(matches!(
        source.kind,
        TransactionPartnerUserKind::InvoicePayment(_)
    ));
    assert!(matches!(
        transactions[1].receiver,
        Some(TransactionPartner::User(_))
    ));
    assert_eq!(bot.get_my_star_balance().await.unwrap().amount, 0);

    // A subscription link and its recurring payment.
    let link = bot
        .create_invoice_link(
            "Pro",
            "30 days",
            "sub-1",
            "XTR",
            [LabeledPrice::new("Pro", 100)],
        )
        .subscription_period(Seconds::from_seconds(2_592_000))
        .await
        .unwrap();
    let sim = env.sim.clone();
    let paying = tokio::spawn(async move { sim.pay(TOKEN, BUYER, &InvoiceRef::Link(link)).await });
    let UpdateKind::PreCheckoutQuery(pcq) = next(&bot, &mut offset).await.kind else {
        panic!("not a pre-checkout")
    };
    bot.answer_pre_checkout_query(pcq.id, true).await.unwrap();
    let PayOutcome::Paid { charge_id, .. } = paying.await.unwrap().unwrap() else {
        panic!("not paid")
    };
    let UpdateKind::Message(paid) = next(&bot, &mut offset).await.kind else {
        panic!("not a message")
    };
    let MessageKind::SuccessfulPayment(sp) = &paid.kind else {
        panic!("not a payment")
    };
    assert!(sp.successful_payment.is_recurring && sp.successful_payment.is_first_recurring);
    assert!(sp.successful_payment.subscription_expiration_date.is_some());

    // A period later Telegram renews it: recurring, but not the first payment.
    env.sim.advance_time(2_592_000);
    let UpdateKind::Message(renewed) = next(&bot, &mut offset).await.kind else {
        panic!("not a message")
    };
    let MessageKind::SuccessfulPayment(sp) = &renewed.kind else {
        panic!("not a payment: {:?}", renewed.kind)
    };
    assert!(sp.successful_payment.is_recurring && !sp.successful_payment.is_first_recurring);
    assert!(sp.successful_payment.subscription_expiration_date.is_some());

    // The buyer cancels: a Bot API 10.2 `subscription` update. teloxide-core 0.13 has no type
    // for it, so it must come out as `UpdateKind::Error` holding the raw update, without failing
    // the batch it arrives in (the message behind it still parses).
    let canceled = env
        .sim
        .cancel_subscription_as_buyer(TOKEN, &charge_id)
        .unwrap();
    env.sim.send_text(TOKEN, BUYER, "still here");
    let batch = bot.get_updates().offset(offset).await.unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(i64::from(batch[0].id.0), canceled);
    let UpdateKind::Error(raw) = &batch[0].kind else {
        panic!("a subscription update parsed as {:?}", batch[0].kind)
    };
    assert_eq!(raw["subscription"]["state"], "canceled");
    assert_eq!(raw["subscription"]["user"]["id"], BUYER);
    assert!(matches!(&batch[1].kind, UpdateKind::Message(m) if m.text() == Some("still here")));
    offset = batch[1].id.0 as i32 + 1;
    bot.get_updates().offset(offset).await.unwrap();

    bot.edit_user_star_subscription(UserId(BUYER as u64), charge_id.into(), true)
        .await
        .unwrap();

    // Webhook info, and a 429 turned into RetryAfter.
    let info = bot.get_webhook_info().await.unwrap();
    assert!(info.url.is_none());
    env.sim.inject_fault(
        TOKEN,
        "GetMe",
        Fault::TooManyRequests {
            retry_after: 3,
            times: 1,
        },
    );
    match bot.get_me().await {
        Err(RequestError::RetryAfter(secs)) => assert_eq!(secs.seconds(), 3),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn raw_updates_and_edited_messages_deserialize_as_teloxide_types() {
    let env = Env::start().await;
    env.open_chat().await;
    let sent = env
        .ok("sendMessage", json!({ "chat_id": BUYER, "text": "v1" }))
        .await;
    let edited = env
        .ok(
            "editMessageText",
            json!({ "chat_id": BUYER, "message_id": sent["message_id"], "text": "v2" }),
        )
        .await;
    let message: teloxide_core::types::Message = serde_json::from_str(&edited.to_string()).unwrap();
    assert_eq!(message.text(), Some("v2"));
    env.sim.send_text(TOKEN, BUYER, "plain words");
    let raw = env.drain().await.remove(0);
    // Parsed from text, as teloxide does: its Update deserializer does not accept a `Value`.
    let update: Update = serde_json::from_str(&raw.to_string()).unwrap();
    let UpdateKind::Message(message) = update.kind else {
        panic!("{:?}", update.kind)
    };
    assert_eq!(message.text(), Some("plain words"));
    assert!(message.entities().unwrap_or_default().is_empty());
}
