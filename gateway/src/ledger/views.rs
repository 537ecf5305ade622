//! Read-only views for the seller's dashboard (`admin/dashboard`): payments by filter and page,
//! the sales funnel, memberships with when they started, and what the review queue needs to
//! show. They read the same rows as `stats` and `ledger export`, so the page and the command
//! line cannot disagree.

use crate::domain::{BotId, ChargeId};
use sqlx::Row;

use super::events::EventKind;
use super::payments::{PAYMENT_COLUMNS, payment_from_row};
use super::status::PaymentStatus;
use super::subscriptions::SubscriptionState;
use super::{Ledger, LedgerError, Payment};

/// Which payments to read. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentQuery {
    pub bot: Option<String>,
    pub product: Option<String>,
    pub status: Option<PaymentStatus>,
    pub user_id: Option<i64>,
    /// Paid at or after this time (unix ms).
    pub from_ms: Option<i64>,
    /// Paid before this time (unix ms).
    pub until_ms: Option<i64>,
}

/// A page of a longer list: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// From an invoice to a delivery, for a period: how many got how far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Funnel {
    /// Orders created (each invoice or invoice link is a new order).
    pub invoices: i64,
    pub pre_checkouts_approved: i64,
    pub paid: i64,
    /// Of `paid`, those whose delivery reached the buyer (even if refunded later).
    pub delivered: i64,
}

/// One membership with the time its first charge was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub bot: String,
    pub user_id: i64,
    pub product: String,
    pub state: SubscriptionState,
    /// When the first charge was paid (unix ms); `None` if that payment is not in the ledger.
    pub started_at: Option<i64>,
    pub expires_at: i64,
    /// The last change of state (unix ms): for an expired membership, when it ended.
    pub updated_at: i64,
}

/// What the outbox holds for a payment: the content generated once, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    pub content: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const FILTER: &str = "($1 IS NULL OR bot = $1) AND ($2 IS NULL OR product = $2) \
     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR user_id = $4) \
     AND paid_at >= $5 AND paid_at < $6";

fn bind_filter<'q>(
    sql: &'q str,
    q: &'q PaymentQuery,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(q.bot.as_deref())
        .bind(q.product.as_deref())
        .bind(q.status.map(PaymentStatus::as_str))
        .bind(q.user_id)
        .bind(q.from_ms.unwrap_or(i64::MIN))
        .bind(q.until_ms.unwrap_or(i64::MAX))
}

impl Ledger {
    /// Payments matching `q`, oldest first (the order of `ledger export`), optionally one page.
    pub async fn payments_matching(
        &self,
        q: &PaymentQuery,
        page: Option<Page>,
    ) -> Result<Vec<Payment>, LedgerError> {
        let limit = page.map_or(String::new(), |p| {
            format!(" LIMIT {} OFFSET {}", p.limit.max(0), p.offset.max(0))
        });
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE {FILTER} \
             ORDER BY paid_at, bot, charge_id{limit}"
        );
        let rows = bind_filter(&sql, q).fetch_all(&self.reads).await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// How many payments match `q`.
    pub async fn count_payments_matching(&self, q: &PaymentQuery) -> Result<i64, LedgerError> {
        let sql = format!("SELECT COUNT(*) AS n FROM payments WHERE {FILTER}");
        let row = bind_filter(&sql, q).fetch_one(&self.reads).await?;
        Ok(row.try_get("n")?)
    }

    /// The funnel of a period `[from_ms, until_ms)` for one bot or all.
    pub async fn funnel(
        &self,
        bot: Option<&BotId>,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Funnel, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let count = |sql: &'static str| async move {
            let row = sqlx::query(sql)
                .bind(bot)
                .bind(from_ms)
                .bind(until_ms)
                .fetch_one(&self.reads)
                .await?;
            Ok::<i64, LedgerError>(row.try_get("n")?)
        };
        let invoices = count(
            "SELECT COUNT(*) AS n FROM orders WHERE ($1 IS NULL OR bot = $1) \
             AND created_at >= $2 AND created_at < $3",
        )
        .await?;
        let approved = sqlx::query(
            "SELECT COUNT(*) AS n FROM events WHERE ($1 IS NULL OR bot = $1) \
             AND at >= $2 AND at < $3 AND kind = $4",
        )
        .bind(bot)
        .bind(from_ms)
        .bind(until_ms)
        .bind(EventKind::PreCheckoutApproved.as_str())
        .fetch_one(&self.reads)
        .await?
        .try_get("n")?;
        let paid = count(
            "SELECT COUNT(*) AS n FROM payments WHERE ($1 IS NULL OR bot = $1) \
             AND paid_at >= $2 AND paid_at < $3",
        )
        .await?;
        let delivered = count(
            "SELECT COUNT(*) AS n FROM payments WHERE ($1 IS NULL OR bot = $1) \
             AND paid_at >= $2 AND paid_at < $3 AND delivered_at IS NOT NULL",
        )
        .await?;
        Ok(Funnel {
            invoices,
            pre_checkouts_approved: approved,
            paid,
            delivered,
        })
    }

    /// Every membership of one bot or all, with when its first charge was paid.
    pub async fn memberships(&self, bot: Option<&BotId>) -> Result<Vec<Membership>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(
            "SELECT s.bot, s.user_id, s.product, s.state, s.expires_at, s.updated_at, \
             p.paid_at AS started_at FROM subscriptions s LEFT JOIN payments p \
             ON p.bot = s.bot AND p.charge_id = s.first_charge_id \
             WHERE ($1 IS NULL OR s.bot = $1) ORDER BY s.bot, s.product, s.user_id",
        )
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(Membership {
                    bot: r.try_get("bot")?,
                    user_id: r.try_get("user_id")?,
                    product: r.try_get("product")?,
                    state: SubscriptionState::parse(&state).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown membership state {state:?}").into())
                    })?,
                    started_at: r.try_get("started_at")?,
                    expires_at: r.try_get("expires_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The delivery stored for a charge, with its attempts and last error, if one was generated.
    pub async fn stored_delivery(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<Option<StoredDelivery>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let row = sqlx::query(
            "SELECT content, attempts, last_error FROM deliveries WHERE bot = $1 AND charge_id = $2",
        )
        .bind(bot)
        .bind(charge_id)
        .fetch_optional(&self.reads)
        .await?;
        row.map(|r| {
            Ok(StoredDelivery {
                content: r.try_get("content")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .transpose()
    }
}
