//! Money: pre-checkout answers, charges, refunds, subscriptions and the Stars ledger.
//!
//! `settle` and `refund` are shared with the play-a-buyer API, so a payment or refund produces
//! the same transaction and service message whoever started it.

use serde_json::{Value, json};

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::queue::{Kind, Lane};
use crate::shapes;
use crate::state::{BotState, Charge, Registry, Subscription};
use crate::types::PreCheckoutAnswer;

/// Telegram's deadline for answerPreCheckoutQuery.
pub(crate) const PRE_CHECKOUT_DEADLINE_MS: i64 = 10_000;

pub(super) fn answer_pre_checkout_query(ctx: &Ctx<'_>) -> ApiResult {
    let p = ctx.params;
    let query_id = p.req_str("pre_checkout_query_id")?;
    let ok = p.req_bool("ok")?;
    let error_message = p.opt_str("error_message")?.filter(|m| !m.is_empty());
    if !ok && error_message.is_none() {
        return Err(ApiError::bad("error_message is required when ok is false"));
    }
    let now_ms = ctx.shared.clock.mono_ms();
    ctx.with_bot(|bot, _| {
        let query = bot
            .pre_checkouts
            .get_mut(&query_id)
            .ok_or_else(ApiError::query_too_old)?;
        let after_ms = now_ms - query.created_ms;
        let accepted =
            query.answer.is_none() && !query.expired && after_ms < PRE_CHECKOUT_DEADLINE_MS;
        bot.precheckout_answers.push(PreCheckoutAnswer {
            query_id: query_id.clone(),
            ok,
            error_message: error_message.clone(),
            after_ms: u64::try_from(after_ms).unwrap_or(0),
            accepted,
        });
        if !accepted {
            return Err(ApiError::query_too_old());
        }
        query.answer = Some((ok, error_message));
        query.wake.notify_one();
        Ok(Value::Bool(true))
    })
}

pub(super) fn refund_star_payment(ctx: &Ctx<'_>) -> ApiResult {
    let user_id = ctx.params.req_i64("user_id")?;
    let charge_id = ctx.params.req_str("telegram_payment_charge_id")?;
    let now = ctx.now();
    ctx.with_bot(
        |bot, reg| match refund(bot, reg, now, &charge_id, Some(user_id)) {
            Ok(_) => Ok(Value::Bool(true)),
            Err(Refusal::NotFound) => Err(ApiError::bad("CHARGE_NOT_FOUND")),
            Err(Refusal::WrongUser) => Err(ApiError::bad("USER_ID_INVALID")),
            Err(Refusal::AlreadyRefunded) => Err(ApiError::bad("CHARGE_ALREADY_REFUNDED")),
        },
    )
}

pub(super) fn get_star_transactions(ctx: &Ctx<'_>) -> ApiResult {
    let offset = ctx.params.opt_i64("offset")?.unwrap_or(0).max(0);
    let limit = ctx.params.opt_i64("limit")?.unwrap_or(100).clamp(1, 100);
    ctx.with_bot(|bot, _| {
        let page: Vec<Value> = bot
            .transactions
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(100))
            .cloned()
            .collect();
        Ok(json!({ "transactions": page }))
    })
}

pub(super) fn edit_user_star_subscription(ctx: &Ctx<'_>) -> ApiResult {
    let user_id = ctx.params.req_i64("user_id")?;
    let charge_id = ctx.params.req_str("telegram_payment_charge_id")?;
    let is_canceled = ctx.params.req_bool("is_canceled")?;
    ctx.with_bot(|bot, _| {
        let (owner, index) = bot
            .charges
            .get(&charge_id)
            .and_then(|c| Some((c.user_id, c.subscription?)))
            .ok_or_else(|| ApiError::bad("CHARGE_NOT_FOUND"))?;
        if owner != user_id {
            return Err(ApiError::bad("USER_ID_INVALID"));
        }
        if let Some(subscription) = bot.subscriptions.get_mut(index) {
            subscription.is_canceled = is_canceled;
        }
        Ok(Value::Bool(true))
    })
}

pub(super) fn get_my_star_balance(ctx: &Ctx<'_>) -> ApiResult {
    ctx.with_bot(|bot, _| Ok(json!({ "amount": bot.balance() })))
}

/// What a settled payment produced.
pub(crate) struct Settled {
    pub charge_id: String,
    pub update_id: i64,
}

/// How a payment is being made.
pub(crate) enum Paying {
    /// An ordinary invoice, or the first payment of a subscription when `period` is set.
    Invoice { period: Option<i64> },
    /// A renewal of an existing subscription (index into `BotState::subscriptions`).
    Renewal(usize),
}

/// Moves the Stars: a new charge id, an incoming transaction and the `successful_payment`
/// service message in the buyer's chat.
pub(crate) fn settle(
    bot: &mut BotState,
    reg: &mut Registry,
    now: i64,
    user_id: i64,
    amount: i64,
    payload: &str,
    paying: Paying,
) -> Settled {
    let charge_id = reg.new_charge_id();
    let name = reg.user_name(user_id).unwrap_or_default();
    let user = shapes::user(user_id, &name);
    let mut payment = json!({
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    });
    let (subscription, first) = match paying {
        Paying::Invoice { period: None } => (None, false),
        Paying::Invoice {
            period: Some(period),
        } => {
            bot.subscriptions.push(Subscription {
                user_id,
                payload: payload.to_owned(),
                amount,
                period,
                charge_ids: Vec::new(),
                expires_at: now,
                is_canceled: false,
            });
            (Some(bot.subscriptions.len() - 1), true)
        }
        Paying::Renewal(index) => (Some(index), false),
    };
    let mut period = None;
    if let Some(sub) = subscription.and_then(|i| bot.subscriptions.get_mut(i)) {
        sub.expires_at = sub.expires_at.max(now) + sub.period;
        sub.charge_ids.push(charge_id.clone());
        period = Some(sub.period);
        payment["subscription_expiration_date"] = json!(sub.expires_at);
        payment["is_recurring"] = json!(true);
        if first {
            payment["is_first_recurring"] = json!(true);
        }
    }
    let mut source = json!({
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": user,
        "invoice_payload": payload,
    });
    if let Some(period) = period {
        source["subscription_period"] = json!(period);
    }
    bot.transactions.push(json!({
        "id": charge_id,
        "amount": amount,
        "date": now,
        "source": source,
    }));
    bot.charges.insert(
        charge_id.clone(),
        Charge {
            user_id,
            amount,
            payload: payload.to_owned(),
            refunded: false,
            subscription,
        },
    );
    let update_id = service_message(
        bot,
        now,
        user_id,
        &name,
        json!({ "successful_payment": payment }),
    );
    if bot.lose_payment_updates > 0 {
        bot.lose_payment_updates -= 1;
        bot.queue.retain(|q| q.update_id != update_id);
    }
    Settled {
        charge_id,
        update_id,
    }
}

pub(crate) enum Refusal {
    NotFound,
    WrongUser,
    AlreadyRefunded,
}

/// Refunds a charge: an outgoing transaction with the charge's id and a `refunded_payment`
/// service message. `by_user` is the user the bot named, checked against the buyer.
pub(crate) fn refund(
    bot: &mut BotState,
    reg: &Registry,
    now: i64,
    charge_id: &str,
    by_user: Option<i64>,
) -> Result<i64, Refusal> {
    let charge = bot.charges.get_mut(charge_id).ok_or(Refusal::NotFound)?;
    if by_user.is_some_and(|u| u != charge.user_id) {
        return Err(Refusal::WrongUser);
    }
    if charge.refunded {
        return Err(Refusal::AlreadyRefunded);
    }
    charge.refunded = true;
    let charge = charge.clone();
    let name = reg.user_name(charge.user_id).unwrap_or_default();
    let mut receiver = json!({
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": shapes::user(charge.user_id, &name),
        "invoice_payload": charge.payload,
    });
    if let Some(sub) = charge.subscription.and_then(|i| bot.subscriptions.get(i)) {
        receiver["subscription_period"] = json!(sub.period);
    }
    bot.transactions.push(json!({
        "id": charge_id,
        "amount": charge.amount,
        "date": now,
        "receiver": receiver,
    }));
    let refunded = json!({
        "refunded_payment": {
            "currency": "XTR",
            "total_amount": charge.amount,
            "invoice_payload": charge.payload,
            "telegram_payment_charge_id": charge_id,
        }
    });
    Ok(service_message(bot, now, charge.user_id, &name, refunded))
}

/// Queues a payment service message in the buyer's private chat with the bot.
fn service_message(bot: &mut BotState, now: i64, user_id: i64, name: &str, fields: Value) -> i64 {
    let chat = bot.chat_mut(user_id);
    // Paying opens the chat even when the buyer came through a link and never wrote.
    chat.started = true;
    let message_id = chat.take_message_id();
    let message = shapes::message(
        message_id,
        shapes::user(user_id, name),
        shapes::private_chat(user_id, name),
        now,
        fields,
    );
    bot.push_update(now, Kind::Message, Lane::Chat(user_id), message)
        .update_id
}
