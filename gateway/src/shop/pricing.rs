//! The price of one invoice: the list price, a promo code's discount, or the product plugin's
//! quote. Decided once, when the invoice is asked for, and stored on the order; the
//! pre-checkout re-checks the code (its window and its limits, holding a use for the order) so a
//! code is never used past its limits, and delivery sees the price the order was sold at.

use teloxide_core::types::{ChatId, InlineKeyboardButton};

use super::reply::say_with_buttons;
use super::{Current, ShopError, Store};
use crate::config::{Product, Texts};
use crate::domain::OrderId;
use crate::i18n::Msg;
use crate::ledger::Pricing;
use crate::plugins::{PromoView, Quote, QuoteRequest};
use crate::pricing::{DiscountSource, Promo, PromoCode, PromoRefusal};

/// Callback data of a buy button: `buy:<product-id>` (at most 36 bytes, within Telegram's 64).
pub(super) const BUY_PREFIX: &str = "buy:";

/// What an invoice will ask for.
#[derive(Debug, Clone)]
pub(super) struct Offer {
    /// The order the invoice will carry (a plugin's quote already saw it).
    pub order_id: OrderId,
    /// Whole Stars charged.
    pub price: u32,
    pub pricing: Pricing,
    /// The invoice's one price label.
    pub label: String,
}

impl Offer {
    /// The list price, labelled with the product's title.
    pub fn list(product: &Product, title: &str) -> Self {
        Self {
            order_id: OrderId::generate(),
            price: product.price.get(),
            pricing: Pricing::list(i64::from(product.price.get())),
            label: title.to_owned(),
        }
    }
}

/// Why no invoice is sent for what the buyer asked.
#[derive(Debug, Clone)]
pub(super) enum NoOffer {
    /// The code the buyer typed (as typed, upper case) cannot be used, and why.
    Promo { code: String, why: PromoRefusal },
    /// The plugin's quote refused the sale with this text.
    Plugin(String),
    /// The plugin's quote failed (trap, timeout, invalid price): the generic refusal.
    Failed,
}

/// The buyer-facing sentence for a code that cannot be used.
pub(super) fn refusal_text(texts: &Texts<'_>, code: &str, why: PromoRefusal) -> String {
    let msg = match why {
        PromoRefusal::Unknown => Msg::PromoUnknown,
        PromoRefusal::NotYet => Msg::PromoNotYet,
        PromoRefusal::Expired => Msg::PromoExpired,
        PromoRefusal::UsedUp => Msg::PromoUsedUp,
        PromoRefusal::AlreadyUsed => Msg::PromoAlreadyUsed,
        PromoRefusal::NotForProduct => Msg::PromoNotForProduct,
    };
    texts.fill(msg, &[("code", code)])
}

/// The offer for `product` to a buyer (`user_id`, their `language_code`) with the code they
/// typed, if any: the list price or the code's, then the plugin's quote when it prices orders.
pub(super) async fn offer(
    store: &Store,
    current: &Current,
    product: &Product,
    buyer: (i64, Option<String>),
    typed: Option<&str>,
    texts: &Texts<'_>,
) -> Result<Result<Offer, NoOffer>, ShopError> {
    let offer = match promo_offer(store, current, product, buyer.0, typed, texts).await? {
        Ok(offer) => offer,
        Err(no) => return Ok(Err(no)),
    };
    let Some(entry) = current
        .plugins
        .get(&product.id)
        .filter(|e| e.plugin.quotes())
    else {
        return Ok(Ok(offer));
    };
    let (ctx, view) =
        super::plugin_input::for_quote(store, product, offer.order_id.as_str(), buyer, offer.price)
            .await?;
    let request = QuoteRequest {
        list_price: product.price.get(),
        subscription: product.subscription,
        promo: offer.pricing.promo_code.as_ref().map(|c| PromoView {
            code: c.to_string(),
            price: offer.price,
        }),
    };
    let call = store
        .runner
        .quote(entry.plugin, &entry.breaker, ctx, view, request)
        .await;
    super::plugin_input::trace_call(store, product.id.as_str(), "quote", &call);
    Ok(match call.result {
        Ok(Quote::Keep) => Ok(offer),
        Ok(Quote::Price { amount, label }) => Ok(Offer {
            price: amount,
            pricing: Pricing {
                discount_source: Some(DiscountSource::Plugin),
                ..offer.pricing
            },
            label,
            order_id: offer.order_id,
        }),
        Ok(Quote::Refuse(text)) => Err(NoOffer::Plugin(text)),
        Err(e) => {
            tracing::warn!(bot = %store.id, product = %product.id, error = %e, "A plugin failed to quote; refusing the invoice.");
            Err(NoOffer::Failed)
        }
    })
}

/// The list price, or the price of the code the buyer typed.
async fn promo_offer(
    store: &Store,
    current: &Current,
    product: &Product,
    user_id: i64,
    typed: Option<&str>,
    texts: &Texts<'_>,
) -> Result<Result<Offer, NoOffer>, ShopError> {
    let title = texts.title(product);
    let Some(typed) = typed else {
        return Ok(Ok(Offer::list(product, title)));
    };
    let shown = crate::brief::cut(&typed.to_ascii_uppercase(), 16);
    let refuse = |why| {
        Ok(Err(NoOffer::Promo {
            code: shown.clone(),
            why,
        }))
    };
    let Some(promo) = PromoCode::parse_typed(typed)
        .ok()
        .and_then(|code| current.config.promo(&code))
    else {
        return refuse(PromoRefusal::Unknown);
    };
    let now = store.clock.now_ms();
    if let Err(why) = promo.check_window(&product.id, product.subscription, now) {
        return refuse(why);
    }
    let uses = store
        .ledger
        .promo_uses(&store.id, &promo.code, user_id)
        .await?;
    if let Err(why) = promo.check_uses(uses) {
        return refuse(why);
    }
    let list = product.price.get();
    // `check` refuses a promo that could leave less than 1 Star; 1 is the floor regardless.
    let price = promo.discount.apply(list).unwrap_or(1);
    let code = promo.code.as_str();
    Ok(Ok(Offer {
        order_id: OrderId::generate(),
        price,
        pricing: Pricing {
            list_price: i64::from(list),
            promo_code: Some(promo.code.clone()),
            discount_source: Some(DiscountSource::Promo),
        },
        label: texts.fill(Msg::PromoLabel, &[("title", title), ("code", code)]),
    }))
}

/// Tells the buyer why no invoice comes: for a code that cannot be used, which way and with the
/// full-price offer as a button (never a silent full-price invoice); for a plugin's refusal, its
/// text; for a plugin's failure, the generic refusal.
pub(super) async fn refuse(
    store: &Store,
    product: &Product,
    chat: ChatId,
    texts: &Texts<'_>,
    no: &NoOffer,
) -> Result<String, ShopError> {
    let (code, why) = match no {
        NoOffer::Promo { code, why } => (code, why),
        NoOffer::Plugin(text) => {
            super::reply::say(store, chat, text).await?;
            return Ok("answered: the plugin's quote refused".into());
        }
        NoOffer::Failed => {
            super::reply::say(store, chat, &texts.msg(Msg::Refusal)).await?;
            return Ok("answered: the plugin's quote failed".into());
        }
    };
    let price = product.price.get().to_string();
    let button = InlineKeyboardButton::callback(
        texts.fill(Msg::FullPriceButton, &[("price", price.as_str())]),
        format!("{BUY_PREFIX}{}", product.id),
    );
    let text = refusal_text(texts, code, *why);
    say_with_buttons(store, chat, text, vec![vec![button]]).await?;
    Ok(format!("answered: promo code {}", why.as_str()))
}

/// At pre-checkout, for an order sold with a code: the code must still exist, cover the product
/// and be within its window (a reload may have changed it since the invoice went out).
pub(super) fn recheck<'c>(
    store: &Store,
    current: &'c Current,
    product: &Product,
    code: &PromoCode,
) -> Result<&'c Promo, PromoRefusal> {
    let promo = current.config.promo(code).ok_or(PromoRefusal::Unknown)?;
    promo.check_window(&product.id, product.subscription, store.clock.now_ms())?;
    Ok(promo)
}
