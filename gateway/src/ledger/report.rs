//! Read-only views for `starsgate ledger export` and `starsgate stats` (SPEC §6). Columns are
//! only ever added at the end of the record (`list_price`, `promo_code` are the newest), so a
//! seller's existing import keeps reading the columns it knows.
//!
//! Paid media sales are records there too, as product `paid-media:<post-id>`: Telegram unlocks
//! the media at purchase, so a sale of one of our posts is `delivered` at once, and one whose
//! payload is none of our posts is `needs_review` (product `paid-media:?`). Its `charge_id` is
//! empty until reconciliation links the transaction; its amount is the post's price until then.

use crate::domain::BotId;
use serde::Serialize;

use super::Payment;
use super::payments::{PAYMENT_COLUMNS, payment_from_row};
use super::promos::{Pricing, PromoStats};
use super::status::PaymentStatus;
use super::{Ledger, LedgerError};

#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub bot: Option<BotId>,
    /// Only payments made at or after this time (unix ms).
    pub since_ms: Option<i64>,
}

/// One exported payment, with the fields and names of SPEC §6. Times are RFC 3339 UTC.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportRecord {
    pub bot: String,
    pub charge_id: String,
    pub user_id: i64,
    pub product: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub paid_at: String,
    pub delivered_at: Option<String>,
    pub refunded_at: Option<String>,
    pub plugin_sha256: Option<String>,
    /// The product's price when the invoice was sent; `amount` is what was charged.
    pub list_price: i64,
    /// The promo code the buyer applied, if any.
    pub promo_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProductStats {
    pub bot: String,
    pub product: String,
    pub payments: i64,
    /// Of `payments`, how many were subscription renewals (each renewal is its own payment).
    pub renewals: i64,
    pub delivered: i64,
    pub refunded: i64,
    pub needs_review: i64,
    /// Stars received minus Stars refunded.
    pub net_revenue: i64,
}

impl From<Payment> for ExportRecord {
    fn from(p: Payment) -> Self {
        ExportRecord {
            bot: p.bot.into(),
            charge_id: p.charge_id.into(),
            user_id: p.user_id,
            product: p.product.map(String::from).unwrap_or_default(),
            amount: p.amount,
            currency: p.currency,
            status: p.status.to_string(),
            paid_at: rfc3339(p.paid_at),
            delivered_at: p.delivered_at.map(rfc3339),
            refunded_at: p.refunded_at.map(rfc3339),
            plugin_sha256: p.plugin_sha256,
            list_price: p.pricing.list_price,
            promo_code: p.pricing.promo_code.map(String::from),
        }
    }
}

/// A sale as the reports count it (`stats`, the dashboard's charts and promo totals): an invoice
/// payment or a paid media purchase. Reports group by bot and product and need neither a charge
/// id (a paid media sale has none until reconciliation links it) nor the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sold {
    pub bot: String,
    pub product: Option<String>,
    pub status: PaymentStatus,
    pub amount: i64,
    pub is_renewal: bool,
    /// Unix ms.
    pub paid_at: i64,
    pub pricing: Pricing,
}

impl From<&Payment> for Sold {
    fn from(p: &Payment) -> Self {
        Sold {
            bot: p.bot.to_string(),
            product: p.product.as_ref().map(ToString::to_string),
            status: p.status,
            amount: p.amount,
            is_renewal: p.is_renewal,
            paid_at: p.paid_at,
            pricing: p.pricing.clone(),
        }
    }
}

/// [`PromoStats`] of `payments` (the dashboard's, for a period's payments): the same counting
/// as [`Ledger::promo_stats`].
pub fn summarize_promos(payments: &[Sold]) -> Vec<PromoStats> {
    let mut by: std::collections::BTreeMap<(String, String), PromoStats> = Default::default();
    for p in payments {
        let Some(code) = &p.pricing.promo_code else {
            continue;
        };
        if p.status == PaymentStatus::Refunded {
            continue;
        }
        let s = by
            .entry((p.bot.clone(), code.to_string()))
            .or_insert_with(|| PromoStats {
                bot: p.bot.clone(),
                code: code.to_string(),
                uses: 0,
                discounted: 0,
                revenue: 0,
            });
        s.uses += i64::from(!p.is_renewal);
        s.discounted += p.pricing.list_price - p.amount;
        s.revenue += p.amount;
    }
    by.into_values().collect()
}

/// The column names of the CSV export, in order (written even when there is no record).
/// New columns go at the end, so a seller's spreadsheet keeps reading the old ones.
pub const CSV_HEADER: [&str; 13] = [
    "bot",
    "charge_id",
    "user_id",
    "product",
    "amount",
    "currency",
    "status",
    "paid_at",
    "delivered_at",
    "refunded_at",
    "plugin_sha256",
    "list_price",
    "promo_code",
];

/// Writes `records` as the CSV of `ledger export` (a header, then one line each): the command
/// line and the dashboard's download share it, so they cannot differ.
pub fn write_csv<W: std::io::Write>(records: &[ExportRecord], out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for r in records {
        w.serialize(r)?;
    }
    if records.is_empty() {
        w.write_record(CSV_HEADER)?;
    }
    w.flush()?;
    Ok(())
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl Ledger {
    pub async fn export(&self, filter: &ExportFilter) -> Result<Vec<ExportRecord>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments \
             WHERE ($1 IS NULL OR bot = $1) AND paid_at >= $2 ORDER BY paid_at, bot, charge_id"
        ))
        .bind(filter.bot.as_deref())
        .bind(filter.since_ms.unwrap_or(i64::MIN))
        .fetch_all(&self.reads)
        .await?;
        let mut records = rows
            .iter()
            .map(|r| Ok(ExportRecord::from(payment_from_row(r)?)))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let media = self
            .paid_media_export(filter.bot.as_ref(), filter.since_ms)
            .await?;
        if !media.is_empty() {
            records.extend(media);
            // RFC 3339 UTC times of one format sort as text; a stable sort keeps each kind's order.
            records.sort_by(|a, b| (&a.paid_at, &a.bot).cmp(&(&b.paid_at, &b.bot)));
        }
        Ok(records)
    }

    pub async fn stats(&self, bot: Option<&BotId>) -> Result<Vec<ProductStats>, LedgerError> {
        let sold: Vec<Sold> = self.payments(bot).await?.iter().map(Sold::from).collect();
        let mut stats = summarize(&sold);
        stats.extend(self.paid_media_stats(bot).await?);
        sort_stats(&mut stats);
        Ok(stats)
    }
}

/// The order `stats` lists products in: by bot, then product id.
pub fn sort_stats(stats: &mut [ProductStats]) {
    stats.sort_by(|a, b| (&a.bot, &a.product).cmp(&(&b.bot, &b.product)));
}

/// Revenue and counts per bot and product of `payments`: what `stats` shows for all of them, and
/// the dashboard for a period's.
pub fn summarize(payments: &[Sold]) -> Vec<ProductStats> {
    let mut out: Vec<ProductStats> = Vec::new();
    for p in payments {
        let product = p.product.clone().unwrap_or_else(|| "(unknown)".into());
        let i = match out
            .iter()
            .position(|s| s.bot == p.bot && s.product == product)
        {
            Some(i) => i,
            None => {
                out.push(ProductStats {
                    bot: p.bot.clone(),
                    product,
                    payments: 0,
                    renewals: 0,
                    delivered: 0,
                    refunded: 0,
                    needs_review: 0,
                    net_revenue: 0,
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.payments += 1;
        s.renewals += i64::from(p.is_renewal);
        match p.status {
            PaymentStatus::Delivered => s.delivered += 1,
            PaymentStatus::Refunded => s.refunded += 1,
            PaymentStatus::NeedsReview => s.needs_review += 1,
            _ => {}
        }
        if p.status != PaymentStatus::Refunded {
            s.net_revenue += p.amount;
        }
    }
    out.sort_by(|a, b| (&a.bot, &a.product).cmp(&(&b.bot, &b.product)));
    out
}
