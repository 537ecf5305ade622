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
            // Telegram does not document this refusal; the name is an assumption (README).
            Err(Refusal::BalanceTooLow) => Err(ApiError::bad("BALANCE_TOO_LOW")),
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
        // No `subscription` update: Telegram tells the bot only about changes the user made.
        if let Some(subscription) = bot.subscriptions.get_mut(index) {
            // Canceling what the buyer already canceled changes nothing, so the buyer may still
            // re-enable it; only a cancel that turns renewal off makes it the bot's.
            if !is_canceled || !subscription.is_canceled {
                subscription.canceled_by_bot = is_canceled;
            }
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
    /// A renewal of an existing subscription (`index` into `BotState::subscriptions`), charged
    /// at `due`. A renewal that came due during an `advance_time` jump is dated when it came
    /// due, so the transaction and the message carry the date Telegram would have given them.
    Renewal { index: usize, due: i64 },
}

/// Moves the Stars: a new charge id, an incoming transaction and the `successful_payment`
/// service message in the buyer's chat.
///
/// `now` is when the simulator queues the update, and Telegram's 24 h update lifetime runs from
/// then even for a renewal dated earlier: a clock jump is instantaneous, so the bot never had a
/// chance to fetch the update in between and must not find it already dropped.
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
    let language = reg.language(user_id);
    let user = shapes::user(user_id, &name, &language);
    let mut payment = json!({
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    });
    let (subscription, first, date) = match paying {
        Paying::Invoice { period: None } => (None, false, now),
        Paying::Invoice {
            period: Some(period),
        } => {
            bot.subscriptions
                .push(Subscription::new(user_id, payload, amount, period, now));
            (Some(bot.subscriptions.len() - 1), true, now)
        }
        Paying::Renewal { index, due } => (Some(index), false, due),
    };
    let mut period = None;
    if let Some(sub) = subscription.and_then(|i| bot.subscriptions.get_mut(i)) {
        // A renewal on time extends from the old expiry (no gap, no overlap); one made after
        // a lapse (a manual renewal of an overdue subscription) starts from the payment.
        sub.expires_at = sub.expires_at.max(date) + sub.period;
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
        "date": date,
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
        date,
        now,
        user_id,
        &name,
        &language,
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
    /// The bot's balance is smaller than the charge (only a refund the bot asks for is refused
    /// for this; one made elsewhere, say a chargeback, can take the balance below zero).
    BalanceTooLow,
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
    let amount = charge.amount;
    if by_user.is_some() && bot.balance() < amount {
        return Err(Refusal::BalanceTooLow);
    }
    let Some(charge) = bot.charges.get_mut(charge_id) else {
        return Err(Refusal::NotFound);
    };
    charge.refunded = true;
    let charge = charge.clone();
    let name = reg.user_name(charge.user_id).unwrap_or_default();
    let mut receiver = json!({
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": shapes::user(charge.user_id, &name, &reg.language(charge.user_id)),
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
    Ok(service_message(
        bot,
        now,
        now,
        charge.user_id,
        &name,
        &reg.language(charge.user_id),
        refunded,
    ))
}

/// Queues a payment service message in the buyer's private chat with the bot, dated `date`
/// and queued at `now`.
fn service_message(
    bot: &mut BotState,
    date: i64,
    now: i64,
    user_id: i64,
    name: &str,
    language: &str,
    fields: Value,
) -> i64 {
    let chat = bot.chat_mut(user_id);
    // Paying opens the chat even when the buyer came through a link and never wrote.
    chat.started = true;
    let message_id = chat.take_message_id();
    let message = shapes::message(
        message_id,
        shapes::user(user_id, name, language),
        shapes::private_chat(user_id, name),
        date,
        fields,
    );
    bot.push_update(now, Kind::Message, Lane::Chat(user_id), message)
        .update_id
}
