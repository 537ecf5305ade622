//! Telegram's record of each bot's Stars as reconciliation reads it: every StarTransaction kept
//! once, classified by its partner, with exact amounts (whole Stars and nanostars as integers);
//! the bot's last known balance; and the refunds this gateway asked for, which are what explains
//! an outgoing transaction to a buyer.

use crate::domain::{BotId, ChargeId};
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

pub use crate::domain::StarAmount;

use super::writer::Command;
use super::{Ledger, LedgerError};

/// Which way the Stars went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxDirection {
    /// Into the bot's balance (the transaction has a `source`).
    In,
    /// Out of it (a `receiver`).
    Out,
}

impl TxDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::In, Self::Out]
            .into_iter()
            .find(|d| d.as_str() == raw)
    }
}

/// What a transaction is, by its partner (and, for a user, its `transaction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxClass {
    InvoicePayment,
    PaidMediaPayment,
    GiftPurchase,
    PremiumPurchase,
    BusinessAccountTransfer,
    /// A user transaction of a `transaction_type` newer than this gateway.
    UserOther,
    /// Stars returned to a buyer by a refund this gateway asked for.
    Refund,
    /// Stars returned to a buyer that none of our refunds explains: a chargeback, or a refund
    /// made elsewhere. Flagged for review.
    UnexplainedOutgoing,
    /// Commission earned through an affiliate program.
    AffiliateProgram,
    Chat,
    /// A withdrawal to Fragment.
    Withdrawal,
    TelegramAds,
    /// Paid broadcast fees.
    TelegramApi,
    Other,
    /// A partner type this gateway does not know yet: kept raw and counted, never an error.
    Unknown,
}

impl TxClass {
    pub const ALL: [TxClass; 15] = [
        Self::InvoicePayment,
        Self::PaidMediaPayment,
        Self::GiftPurchase,
        Self::PremiumPurchase,
        Self::BusinessAccountTransfer,
        Self::UserOther,
        Self::Refund,
        Self::UnexplainedOutgoing,
        Self::AffiliateProgram,
        Self::Chat,
        Self::Withdrawal,
        Self::TelegramAds,
        Self::TelegramApi,
        Self::Other,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvoicePayment => "invoice_payment",
            Self::PaidMediaPayment => "paid_media_payment",
            Self::GiftPurchase => "gift_purchase",
            Self::PremiumPurchase => "premium_purchase",
            Self::BusinessAccountTransfer => "business_account_transfer",
            Self::UserOther => "user_other",
            Self::Refund => "refund",
            Self::UnexplainedOutgoing => "unexplained_outgoing",
            Self::AffiliateProgram => "affiliate_program",
            Self::Chat => "chat",
            Self::Withdrawal => "withdrawal",
            Self::TelegramAds => "telegram_ads",
            Self::TelegramApi => "telegram_api",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

impl std::fmt::Display for TxClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One StarTransaction as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarTransaction {
    pub bot: String,
    pub tx_id: String,
    pub direction: TxDirection,
    pub class: TxClass,
    pub amount: StarAmount,
    /// The affiliate's commission on this sale (zero without an affiliate).
    pub commission: StarAmount,
    pub user_id: Option<i64>,
    /// Why a person should look at it.
    pub flagged: Option<String>,
    /// Unix seconds, as Telegram dates it.
    pub date: i64,
    /// The transaction exactly as Telegram sent it.
    pub raw: String,
}

/// Stars per class and direction for one bot, from the kept transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassTotal {
    pub bot: String,
    pub class: TxClass,
    pub direction: TxDirection,
    pub count: i64,
    pub amount: StarAmount,
    pub commission: StarAmount,
}

/// One bot's money as Telegram's transactions tell it (what `stats` shows). Everything adds up:
/// `gross_sales - commissions - refunds - chargebacks - fees - withdrawals + other_in - other_out
/// = net`, the change in the balance over the transactions read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BotMoney {
    pub bot: String,
    /// What buyers paid for invoices and paid media (the bot's share plus affiliates').
    pub gross_sales: StarAmount,
    /// Affiliates' commissions on those sales.
    pub commissions: StarAmount,
    /// Returned by refunds this gateway made.
    pub refunds: StarAmount,
    /// Returned to buyers with no refund of ours behind it (flagged for review).
    pub chargebacks: StarAmount,
    /// Paid broadcasts and Telegram Ads.
    pub fees: StarAmount,
    /// Withdrawn to Fragment.
    pub withdrawals: StarAmount,
    pub other_in: StarAmount,
    pub other_out: StarAmount,
    pub net: StarAmount,
}

/// [`BotMoney`] per bot from [`Ledger::star_totals`].
pub fn money_by_bot(totals: &[ClassTotal]) -> Vec<BotMoney> {
    let mut out: Vec<(String, [i128; 9])> = Vec::new();
    for t in totals {
        let i = match out.iter().position(|(b, _)| *b == t.bot) {
            Some(i) => i,
            None => {
                out.push((t.bot.clone(), [0; 9]));
                out.len() - 1
            }
        };
        let m = &mut out[i].1;
        let (amount, commission) = (t.amount.total_nanos(), t.commission.total_nanos());
        use TxClass::*;
        match (t.direction, t.class) {
            (TxDirection::In, InvoicePayment | PaidMediaPayment) => {
                m[0] += amount + commission;
                m[1] += commission;
            }
            (TxDirection::Out, Refund) => m[2] += amount,
            (TxDirection::Out, UnexplainedOutgoing) => m[3] += amount,
            (TxDirection::Out, TelegramApi | TelegramAds) => m[4] += amount,
            (TxDirection::Out, Withdrawal) => m[5] += amount,
            (TxDirection::In, _) => m[6] += amount,
            (TxDirection::Out, _) => m[7] += amount,
        }
        m[8] += match t.direction {
            TxDirection::In => amount,
            TxDirection::Out => -amount,
        };
    }
    out.into_iter()
        .map(|(bot, m)| BotMoney {
            bot,
            gross_sales: StarAmount::from_nanos(m[0]),
            commissions: StarAmount::from_nanos(m[1]),
            refunds: StarAmount::from_nanos(m[2]),
            chargebacks: StarAmount::from_nanos(m[3]),
            fees: StarAmount::from_nanos(m[4]),
            withdrawals: StarAmount::from_nanos(m[5]),
            other_in: StarAmount::from_nanos(m[6]),
            other_out: StarAmount::from_nanos(m[7]),
            net: StarAmount::from_nanos(m[8]),
        })
        .collect()
}

/// A bot's balance as getMyStarBalance last gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBalance {
    pub amount: StarAmount,
    /// Unix ms.
    pub checked_at: i64,
}

impl Ledger {
    /// Keeps a transaction (once: a repeat of the same id and direction changes nothing). True if
    /// it was new.
    pub async fn record_star_transaction(&self, tx: StarTransaction) -> Result<bool, LedgerError> {
        let at = self.stamp();
        self.run(Keep { tx, at }).await
    }

    /// Stars per bot, class and direction.
    pub async fn star_totals(&self, bot: Option<&BotId>) -> Result<Vec<ClassTotal>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(
            "SELECT bot, class, direction, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS a, \
             CAST(SUM(nanostar_amount) AS BIGINT) AS na, CAST(SUM(commission) AS BIGINT) AS c, \
             CAST(SUM(commission_nano) AS BIGINT) AS cn \
             FROM star_transactions WHERE ($1 IS NULL OR bot = $1) \
             GROUP BY bot, class, direction ORDER BY bot, class, direction",
        )
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                let class: String = r.try_get("class")?;
                let direction: String = r.try_get("direction")?;
                let sum = |stars: &str, nanos: &str| -> Result<StarAmount, LedgerError> {
                    let s: i64 = r.try_get(stars)?;
                    let n: i64 = r.try_get(nanos)?;
                    let total = i128::from(s) * StarAmount::NANO + i128::from(n);
                    Ok(StarAmount::from_nanos(total))
                };
                Ok(ClassTotal {
                    bot: r.try_get("bot")?,
                    class: TxClass::parse(&class).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown transaction class {class:?}").into())
                    })?,
                    direction: TxDirection::parse(&direction).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown direction {direction:?}").into())
                    })?,
                    count: r.try_get("n")?,
                    amount: sum("a", "na")?,
                    commission: sum("c", "cn")?,
                })
            })
            .collect()
    }

    /// The transactions flagged for review, oldest first.
    pub async fn flagged_star_transactions(
        &self,
        bot: Option<&BotId>,
    ) -> Result<Vec<(String, String, String)>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(
            "SELECT bot, tx_id, flagged FROM star_transactions \
             WHERE flagged IS NOT NULL AND ($1 IS NULL OR bot = $1) ORDER BY date, tx_id",
        )
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Records the balance getMyStarBalance just gave.
    pub async fn set_star_balance(
        &self,
        bot: &BotId,
        amount: StarAmount,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let at = self.stamp();
        self.run(SetBalance {
            bot: bot.to_owned(),
            amount,
            at,
        })
        .await
    }

    pub async fn star_balance(&self, bot: &BotId) -> Result<Option<KnownBalance>, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query(
            "SELECT amount, nanostar_amount, checked_at FROM star_balances WHERE bot = $1",
        )
        .bind(bot)
        .fetch_optional(&self.reads)
        .await?;
        row.map(|r| {
            Ok(KnownBalance {
                amount: StarAmount {
                    stars: r.try_get(0)?,
                    nanostars: r.try_get(1)?,
                },
                checked_at: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Notes that this gateway is about to ask Telegram to refund `charge_id` (before asking, so
    /// a crash in between still explains the outgoing transaction).
    pub async fn refund_requested(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        source: &str,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let at = self.stamp();
        self.run(Requested {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            source: source.to_owned(),
            at,
        })
        .await
    }

    /// Whether this gateway asked for a refund of `charge_id`.
    pub async fn was_refund_requested(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let row = sqlx::query("SELECT 1 FROM refund_requests WHERE bot = $1 AND charge_id = $2")
            .bind(bot)
            .bind(charge_id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.is_some())
    }
}

struct Keep {
    tx: StarTransaction,
    at: i64,
}

impl Command for Keep {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.tx.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let t = &self.tx;
        let done = query(
            "INSERT INTO star_transactions (bot, tx_id, direction, class, amount, nanostar_amount, \
             commission, commission_nano, user_id, flagged, date, raw, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (bot, tx_id, direction) DO NOTHING",
        )
        .bind(&t.bot)
        .bind(&t.tx_id)
        .bind(t.direction.as_str())
        .bind(t.class.as_str())
        .bind(t.amount.stars)
        .bind(t.amount.nanostars)
        .bind(t.commission.stars)
        .bind(t.commission.nanostars)
        .bind(t.user_id)
        .bind(t.flagged.as_deref())
        .bind(t.date)
        .bind(&t.raw)
        .bind(self.at)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}

struct SetBalance {
    bot: String,
    amount: StarAmount,
    at: i64,
}

impl Command for SetBalance {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "INSERT INTO star_balances (bot, amount, nanostar_amount, checked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (bot) DO UPDATE SET amount = excluded.amount, \
             nanostar_amount = excluded.nanostar_amount, checked_at = excluded.checked_at",
        )
        .bind(&self.bot)
        .bind(self.amount.stars)
        .bind(self.amount.nanostars)
        .bind(self.at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

struct Requested {
    bot: String,
    charge_id: String,
    source: String,
    at: i64,
}

impl Command for Requested {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "INSERT INTO refund_requests (bot, charge_id, source, requested_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (bot, charge_id) DO NOTHING",
        )
        .bind(&self.bot)
        .bind(&self.charge_id)
        .bind(&self.source)
        .bind(self.at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_reads_back() {
        for c in TxClass::ALL {
            assert_eq!(TxClass::parse(c.as_str()), Some(c));
            assert!(
                include_str!("../../../migrations/sqlite/0011_star_transactions.sql")
                    .contains(&format!("'{}'", c.as_str()))
            );
            assert!(
                include_str!("../../../migrations/postgres/0011_star_transactions.sql")
                    .contains(&format!("'{}'", c.as_str()))
            );
        }
    }
}
