//! Orders: one per invoice sent. The order id is the invoice payload, and the order keeps the
//! product as it was when the invoice went out (title, price, plugin), so a later price change
//! never makes an already-sent invoice pay the wrong amount.

use sqlx::Row;

use super::events::{EventKind, Subject, append};
use super::{Ledger, LedgerError, now_ms};

#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_id: &'a str,
    pub bot: &'a str,
    pub product: &'a str,
    pub user_id: i64,
    pub chat_id: i64,
    pub title: &'a str,
    pub price: i64,
    pub currency: &'a str,
    pub subscription: bool,
    pub plugin_sha256: Option<&'a str>,
    /// `[product.config]` as JSON, as it is now.
    pub product_config: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub bot: String,
    pub product: String,
    pub user_id: i64,
    pub chat_id: i64,
    pub title: String,
    pub price: i64,
    pub currency: String,
    pub subscription: bool,
    pub plugin_sha256: Option<String>,
    pub product_config: Option<String>,
    pub created_at: i64,
}

impl Ledger {
    pub async fn create_order(&self, o: &NewOrder<'_>) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO orders (order_id, bot, product, user_id, chat_id, title, price, currency, \
             subscription, plugin_sha256, created_at, product_config) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(o.order_id)
        .bind(o.bot)
        .bind(o.product)
        .bind(o.user_id)
        .bind(o.chat_id)
        .bind(o.title)
        .bind(o.price)
        .bind(o.currency)
        .bind(i64::from(o.subscription))
        .bind(o.plugin_sha256)
        .bind(now_ms())
        .bind(o.product_config)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            o.bot,
            EventKind::OrderCreated,
            Subject {
                order_id: Some(o.order_id),
                user_id: Some(o.user_id),
                ..Default::default()
            },
            &format!("{} for {} {}", o.product, o.price, o.currency),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn order(&self, order_id: &str) -> Result<Option<Order>, LedgerError> {
        let row = sqlx::query(
            "SELECT order_id, bot, product, user_id, chat_id, title, price, currency, subscription, \
             plugin_sha256, created_at, product_config FROM orders WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.reads)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Order {
            order_id: r.try_get("order_id")?,
            bot: r.try_get("bot")?,
            product: r.try_get("product")?,
            user_id: r.try_get("user_id")?,
            chat_id: r.try_get("chat_id")?,
            title: r.try_get("title")?,
            price: r.try_get("price")?,
            currency: r.try_get("currency")?,
            subscription: r.try_get::<i64, _>("subscription")? != 0,
            plugin_sha256: r.try_get("plugin_sha256")?,
            created_at: r.try_get("created_at")?,
            product_config: r.try_get("product_config")?,
        }))
    }
}
