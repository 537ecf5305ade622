//! Orders: one per invoice sent. The order id is the invoice payload, and the order keeps the
//! product as it was when the invoice went out (title, price, plugin), so a later price change
//! never makes an already-sent invoice pay the wrong amount.

use crate::domain::{BotId, OrderId, ProductId};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::events::{EventKind, NewEvent, Subject};
use super::ids::id;
use super::multirow::placeholders;
use super::promos::{Pricing, pricing_from_row};
use super::writer::{Write, write_in_chunks};
use super::{Ledger, LedgerError};

/// Orders recently created or read, by id. An order row never changes once written, so a
/// cached one is always current; this saves the two reads each purchase makes of its order
/// (pre-checkout and payment). Emptied when full rather than tracked by age: a miss is only a
/// read.
#[derive(Debug, Default)]
pub(super) struct OrderCache(Mutex<HashMap<OrderId, Order>>);

/// Most orders kept in [`OrderCache`] (a few MiB at most).
const CACHED_ORDERS: usize = 10_000;

impl OrderCache {
    fn get(&self, order_id: &OrderId) -> Option<Order> {
        self.0.lock().ok()?.get(order_id).cloned()
    }

    fn put(&self, order: Order) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CACHED_ORDERS {
                map.clear();
            }
            map.insert(order.order_id.clone(), order);
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_id: &'a OrderId,
    pub bot: &'a BotId,
    pub product: &'a ProductId,
    pub user_id: i64,
    pub chat_id: i64,
    pub title: &'a str,
    pub price: i64,
    pub currency: &'a str,
    pub subscription: bool,
    pub plugin_sha256: Option<&'a str>,
    /// `[product.config]` as JSON, as it is now.
    pub product_config: Option<&'a str>,
    /// The list price, and the code or plugin that made `price` differ from it.
    pub pricing: Pricing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: OrderId,
    pub bot: BotId,
    pub product: ProductId,
    pub user_id: i64,
    pub chat_id: i64,
    pub title: String,
    pub price: i64,
    pub currency: String,
    pub subscription: bool,
    pub plugin_sha256: Option<String>,
    pub product_config: Option<String>,
    pub created_at: i64,
    pub pricing: Pricing,
}

impl Ledger {
    pub async fn create_order(&self, o: &NewOrder<'_>) -> Result<(), LedgerError> {
        let order = Order {
            order_id: o.order_id.clone(),
            bot: o.bot.clone(),
            product: o.product.clone(),
            user_id: o.user_id,
            chat_id: o.chat_id,
            title: o.title.to_owned(),
            price: o.price,
            currency: o.currency.to_owned(),
            subscription: o.subscription,
            plugin_sha256: o.plugin_sha256.map(str::to_owned),
            product_config: o.product_config.map(str::to_owned),
            created_at: self.stamp(),
            pricing: o.pricing.clone(),
        };
        self.write(order.clone()).await?;
        self.orders.put(order);
        Ok(())
    }

    pub async fn order(&self, order_id: &OrderId) -> Result<Option<Order>, LedgerError> {
        if let Some(order) = self.orders.get(order_id) {
            return Ok(Some(order));
        }
        let row = sqlx::query(
            "SELECT order_id, bot, product, user_id, chat_id, title, price, currency, subscription, \
             plugin_sha256, created_at, product_config, list_price, promo_code, discount_source \
             FROM orders WHERE order_id = $1",
        )
        .bind(order_id.as_str())
        .fetch_optional(&self.reads)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let price: i64 = r.try_get("price")?;
        let order = Order {
            pricing: pricing_from_row(&r, price)?,
            order_id: id(&r, "order_id")?,
            bot: id(&r, "bot")?,
            product: id(&r, "product")?,
            user_id: r.try_get("user_id")?,
            chat_id: r.try_get("chat_id")?,
            title: r.try_get("title")?,
            price,
            currency: r.try_get("currency")?,
            subscription: r.try_get::<i64, _>("subscription")? != 0,
            plugin_sha256: r.try_get("plugin_sha256")?,
            created_at: r.try_get("created_at")?,
            product_config: r.try_get("product_config")?,
        };
        self.orders.put(order.clone());
        Ok(Some(order))
    }
}

impl Write for Order {
    type Out = ();

    fn bot(&self) -> &str {
        self.bot.as_str()
    }

    /// The orders and their `order_created` events, a statement each.
    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<()>, LedgerError> {
        let sql = format!(
            "INSERT INTO orders (order_id, bot, product, user_id, chat_id, title, price, currency, \
             subscription, plugin_sha256, created_at, product_config, list_price, promo_code, \
             discount_source) VALUES {}",
            placeholders(rows.len(), 15, 1)
        );
        let mut query = query(&sql);
        for o in rows {
            query = query
                .bind(o.order_id.as_str())
                .bind(o.bot.as_str())
                .bind(o.product.as_str())
                .bind(o.user_id)
                .bind(o.chat_id)
                .bind(o.title.as_str())
                .bind(o.price)
                .bind(o.currency.as_str())
                .bind(i64::from(o.subscription))
                .bind(o.plugin_sha256.as_deref())
                .bind(o.created_at)
                .bind(o.product_config.as_deref())
                .bind(o.pricing.list_price)
                .bind(o.pricing.promo_code.as_ref().map(|c| c.as_str()))
                .bind(o.pricing.discount_source.map(|s| s.as_str()));
        }
        query.execute(&mut *conn).await?;
        let events: Vec<NewEvent> = rows
            .iter()
            .map(|o| {
                let subject = Subject {
                    order_id: Some(o.order_id.as_str()),
                    user_id: Some(o.user_id),
                    ..Default::default()
                };
                let mut detail = format!("{} for {} {}", o.product, o.price, o.currency);
                if let Some(source) = o.pricing.discount_source {
                    let code = o.pricing.promo_code.as_ref().map(|c| c.as_str());
                    detail.push_str(&format!(
                        " (list {}, {source}{})",
                        o.pricing.list_price,
                        code.map(|c| format!(" {c}")).unwrap_or_default()
                    ));
                }
                NewEvent::new(
                    o.created_at,
                    o.bot.as_str(),
                    EventKind::OrderCreated,
                    subject,
                    &detail,
                )
            })
            .collect();
        write_in_chunks(conn, &events).await?;
        Ok(vec![(); rows.len()])
    }
}
