//! sendInvoice and createInvoiceLink under Telegram's Stars (XTR) rules.
//!
//! These rules are exactly what tutorials get wrong (tips, several price items, amounts times
//! 100, a provider token, `subscription_period` on sendInvoice), so each one is enforced with
//! the error Telegram gives rather than silently accepted.

use serde_json::{Value, json};

use super::Ctx;
use super::messages::{Outgoing, post, reply_markup};
use crate::error::{ApiError, ApiResult};
use crate::state::random_alnum;
use crate::types::SentInvoice;

/// The only subscription period Telegram accepts (30 days).
pub(crate) const SUBSCRIPTION_PERIOD: i64 = 2_592_000;
const MAX_SUBSCRIPTION_PRICE: i64 = 10_000;

pub(super) fn send_invoice(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let mut invoice = validate(ctx, false)?;
    invoice.chat_id = Some(chat_id);
    let markup = reply_markup(ctx)?;
    if let Some(markup) = &markup {
        let first_is_pay = markup["inline_keyboard"][0][0]["pay"].as_bool() == Some(true);
        if markup.get("inline_keyboard").is_some() && !first_is_pay {
            return Err(ApiError::bad("REPLY_MARKUP_BUY_EMPTY"));
        }
    }
    let start_parameter = ctx.params.opt_str("start_parameter")?.unwrap_or_default();
    let now = ctx.now();
    ctx.with_bot(|bot, reg| {
        let fields = json!({
            "invoice": {
                "title": invoice.title,
                "description": invoice.description,
                "start_parameter": start_parameter,
                "currency": invoice.currency,
                "total_amount": invoice.amount,
            }
        });
        let out = Outgoing {
            fields,
            text: None,
            invoice: Some(invoice),
            reply_markup: markup,
            media: None,
        };
        post(bot, reg, chat_id, now, out)
    })
}

pub(super) fn create_invoice_link(ctx: &Ctx<'_>) -> ApiResult {
    let mut invoice = validate(ctx, true)?;
    let link = format!("https://t.me/${}", random_alnum(22));
    invoice.link = Some(link.clone());
    ctx.with_bot(|bot, _| {
        bot.invoices.push(invoice);
        Ok(Value::String(link))
    })
}

/// The checks shared by both methods, in the order Telegram reports them.
fn validate(ctx: &Ctx<'_>, is_link: bool) -> ApiResult<SentInvoice> {
    let p = ctx.params;
    let title = p.req_str("title")?;
    if title.chars().count() > 32 {
        return Err(ApiError::bad("TITLE_INVALID"));
    }
    let description = p.req_str("description")?;
    if description.chars().count() > 255 {
        return Err(ApiError::bad("DESCRIPTION_INVALID"));
    }
    let payload = p.req_str("payload")?;
    if payload.len() > 128 {
        return Err(ApiError::bad("INVOICE_PAYLOAD_INVALID"));
    }
    let currency = p.req_str("currency")?;
    if currency != "XTR" {
        return Err(ApiError::bad("CURRENCY_INVALID"));
    }
    let amount = single_price(p.opt_json("prices")?)?;
    let stars_invalid = || ApiError::bad("STARS_INVOICE_INVALID");
    if p.opt_str("provider_token")?.is_some_and(|t| !t.is_empty()) {
        return Err(stars_invalid());
    }
    if p.opt_i64("max_tip_amount")?.is_some_and(|t| t != 0) {
        return Err(stars_invalid());
    }
    if let Some(tips) = p.opt_json("suggested_tip_amounts")?
        && tips.as_array().is_none_or(|t| !t.is_empty())
    {
        return Err(stars_invalid());
    }
    let subscription_period = p.opt_i64("subscription_period")?;
    if let Some(period) = subscription_period {
        if !is_link || period != SUBSCRIPTION_PERIOD {
            return Err(ApiError::bad("SUBSCRIPTION_PERIOD_INVALID"));
        }
        if amount > MAX_SUBSCRIPTION_PRICE {
            return Err(ApiError::bad("SUBSCRIPTION_PRICE_INVALID"));
        }
    }
    Ok(SentInvoice {
        message_id: None,
        link: None,
        chat_id: None,
        title,
        description,
        payload,
        currency,
        amount,
        subscription_period,
        params: p.to_value(),
    })
}

/// Stars invoices carry exactly one price item of at least one whole Star.
fn single_price(prices: Option<Value>) -> ApiResult<i64> {
    let prices = prices.ok_or_else(|| ApiError::required("prices"))?;
    let unparsable = || ApiError::bad("can't parse prices JSON object");
    let items = prices.as_array().ok_or_else(unparsable)?;
    let mut amounts = Vec::with_capacity(items.len());
    for item in items {
        if !item["label"].is_string() {
            return Err(unparsable());
        }
        amounts.push(item["amount"].as_i64().ok_or_else(unparsable)?);
    }
    match amounts.as_slice() {
        [amount] if *amount >= 1 && *amount <= i64::from(i32::MAX) => Ok(*amount),
        _ => Err(ApiError::bad("STARS_INVOICE_INVALID")),
    }
}
