//! Invoices. Every invoice is a new order whose id is the payload, in Telegram Stars exactly as
//! the Bot API wants them: currency XTR, one price item, no provider token, no tips, no `need_*`
//! flags. Subscriptions are sold through an invoice link with the 30-day period.

use teloxide_core::prelude::*;
use teloxide_core::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Seconds,
};

use super::pricing::Offer;
use super::{Current, ShopError, Store, tg};
use crate::config::{Product, Texts};
use crate::domain::{OrderId, XTR};
use crate::i18n::Msg;
use crate::ledger::NewOrder;
use crate::telegram::with_retry;
use teloxide_core::requests::Request;

/// Records an order for `product` as it is now: price, title, plugin version and plugin config,
/// so a later change to the product never changes what this invoice sells. `offer` is the price
/// charged and what it was made of (see `shop::pricing`).
async fn record_order(
    store: &Store,
    current: &Current,
    product: &Product,
    offer: &Offer,
    user_id: i64,
    chat_id: i64,
) -> Result<OrderId, ShopError> {
    let order_id = offer.order_id.clone();
    let plugin_sha = current
        .plugins
        .get(&product.id)
        .and_then(|e| e.plugin.sha256().map(str::to_owned));
    let product_config = serde_json::to_string(&product.config).ok();
    store
        .ledger
        .create_order(&NewOrder {
            order_id: &order_id,
            bot: &store.id,
            product: &product.id,
            user_id,
            chat_id,
            title: product.title.as_str(),
            price: i64::from(offer.price),
            currency: XTR,
            subscription: product.subscription,
            plugin_sha256: plugin_sha.as_deref(),
            product_config: product_config.as_deref(),
            pricing: offer.pricing.clone(),
        })
        .await?;
    Ok(order_id)
}

/// Telegram accepts exactly this subscription period (30 days).
pub const SUBSCRIPTION_PERIOD_SECS: u32 = 2_592_000;

pub(super) async fn send(
    store: &Store,
    current: &Current,
    product: &Product,
    offer: &Offer,
    user_id: i64,
    chat: ChatId,
    texts: &Texts<'_>,
) -> Result<(), ShopError> {
    let order_id = record_order(store, current, product, offer, user_id, chat.0).await?;
    let (title, description) = (texts.title(product), texts.description(product));
    let prices = [LabeledPrice::new(offer.label.as_str(), offer.price)];
    let price = offer.price.to_string();
    let api = &store.clients.api;
    if product.subscription {
        let request = api
            .create_invoice_link(title, description, order_id.as_str(), XTR, prices)
            .subscription_period(Seconds::from_seconds(SUBSCRIPTION_PERIOD_SECS));
        let link = with_retry(|| request.send_ref())
            .await
            .map_err(tg("createInvoiceLink"))?;
        let button = match reqwest::Url::parse(&link) {
            Ok(url) => InlineKeyboardButton::url(
                texts.fill(Msg::SubscribeButton, &[("price", price.as_str())]),
                url,
            ),
            Err(_) => InlineKeyboardButton::callback("Link unavailable, try /start again", "noop"),
        };
        let request = api
            .send_message(
                chat,
                format!(
                    "{}\n{link}",
                    texts.fill(
                        Msg::SubscriptionOffer,
                        &[("title", title), ("price", price.as_str())]
                    )
                ),
            )
            .reply_markup(InlineKeyboardMarkup::new([[button]]));
        with_retry(|| request.send_ref())
            .await
            .map_err(tg("sendMessage"))?;
    } else {
        let request = api.send_invoice(chat, title, description, order_id.as_str(), XTR, prices);
        with_retry(|| request.send_ref())
            .await
            .map_err(tg("sendInvoice"))?;
    }
    tracing::info!(bot = %store.id, order = %order_id, product = %product.id, price = offer.price, "Sent an invoice.");
    Ok(())
}

/// An invoice link for a product, for selling outside a Telegram chat (a website, the admin
/// API). The order belongs to no chat; the payment brings the payer's. Returns (order id, link).
pub async fn link(store: &Store, product: &Product) -> Result<(String, String), ShopError> {
    let offer = Offer::list(product, product.title.as_str());
    let order_id = record_order(store, &store.current(), product, &offer, 0, 0).await?;
    let prices = [LabeledPrice::new(
        product.title.as_str(),
        product.price.get(),
    )];
    let mut request = store.clients.api.create_invoice_link(
        product.title.as_str(),
        product.description.as_str(),
        order_id.as_str(),
        XTR,
        prices,
    );
    if product.subscription {
        request = request.subscription_period(Seconds::from_seconds(SUBSCRIPTION_PERIOD_SECS));
    }
    let link = with_retry(|| request.send_ref())
        .await
        .map_err(tg("createInvoiceLink"))?;
    Ok((order_id.to_string(), link))
}
