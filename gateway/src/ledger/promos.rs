//! Promo code uses and what each code earned.
//!
//! A use counts once its order is paid (a payment held for review included: the money was taken)
//! and is given back when that payment is refunded; renewals of a subscription bought with a code
//! are not new uses. Between the pre-checkout approval and the payment (seconds), the order
//! holds its use ([`Ledger::hold_promo_use`]), so two buyers racing for the last use cannot both
//! be approved: the hold is decided by the bot's one writer, which sees every earlier hold and
//! payment of the bot.

use crate::domain::{BotId, OrderId};
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::writer::Command;
use super::{Ledger, LedgerError};
use crate::pricing::{DiscountSource, Promo, PromoCode, PromoRefusal, PromoUses};

/// How long an approved, unpaid order holds its use. Telegram charges within seconds of the
/// approval; a buyer who walks away frees the use after this.
pub const HOLD_MS: i64 = 10 * 60 * 1000;

/// What an order's (or payment's) price was made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    /// The product's price when the invoice was sent.
    pub list_price: i64,
    pub promo_code: Option<PromoCode>,
    /// Set when the price charged is not simply the list price.
    pub discount_source: Option<DiscountSource>,
}

impl Pricing {
    /// The list price, nothing taken off.
    pub fn list(price: i64) -> Self {
        Self {
            list_price: price,
            promo_code: None,
            discount_source: None,
        }
    }
}

/// Reads the pricing columns; a row from before migration 0012 was charged its list price.
pub(super) fn pricing_from_row(
    r: &impl crate::ledger::conn::Fields,
    charged: i64,
) -> Result<Pricing, LedgerError> {
    let list: Option<i64> = r.try_get("list_price")?;
    let code: Option<String> = r.try_get("promo_code")?;
    let source: Option<String> = r.try_get("discount_source")?;
    let promo_code = code
        .map(|c| {
            PromoCode::parse_config(&c)
                .map_err(|e| sqlx::Error::Decode(format!("promo code: {e}").into()))
        })
        .transpose()?;
    let discount_source = source
        .map(|s| {
            DiscountSource::parse(&s)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown discount source {s:?}").into()))
        })
        .transpose()?;
    Ok(Pricing {
        list_price: list.unwrap_or(charged),
        promo_code,
        discount_source,
    })
}

/// Uses of $2 in bot $1 (payments not refunded, first payments only, plus recent holds of other
/// unpaid orders, $4 the oldest hold that counts and $5 the order asking), in total and by $3.
const USES_SQL: &str = "SELECT \
     (SELECT COUNT(*) FROM payments WHERE bot = $1 AND promo_code = $2 AND is_renewal = 0 \
        AND status <> 'refunded') AS paid, \
     (SELECT COUNT(*) FROM payments WHERE bot = $1 AND promo_code = $2 AND is_renewal = 0 \
        AND status <> 'refunded' AND user_id = $3) AS paid_mine, \
     (SELECT COUNT(*) FROM promo_holds h WHERE h.bot = $1 AND h.promo_code = $2 AND h.held_at >= $4 \
        AND h.order_id <> $5 AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.bot = h.bot \
        AND p.promo_code = h.promo_code AND p.order_id = h.order_id)) AS held, \
     (SELECT COUNT(*) FROM promo_holds h WHERE h.bot = $1 AND h.promo_code = $2 AND h.held_at >= $4 \
        AND h.order_id <> $5 AND h.user_id = $3 AND NOT EXISTS (SELECT 1 FROM payments p \
        WHERE p.bot = h.bot AND p.promo_code = h.promo_code AND p.order_id = h.order_id)) AS held_mine";

async fn count_uses(
    conn: &mut Conn,
    bot: &str,
    code: &PromoCode,
    user_id: i64,
    now_ms: i64,
    order_id: &str,
) -> Result<PromoUses, LedgerError> {
    let r = query(USES_SQL)
        .bind(bot)
        .bind(code.as_str())
        .bind(user_id)
        .bind(now_ms - HOLD_MS)
        .bind(order_id)
        .fetch_one(conn)
        .await?;
    let n = |col: &str| -> Result<u32, LedgerError> {
        let v: i64 = r.try_get(col)?;
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    };
    Ok(PromoUses {
        total: n("paid")?.saturating_add(n("held")?),
        by_buyer: n("paid_mine")?.saturating_add(n("held_mine")?),
    })
}

/// What one code did: uses, Stars taken off and Stars earned (refunded payments excluded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromoStats {
    pub bot: String,
    pub code: String,
    /// Paid first payments with the code (renewals are not uses).
    pub uses: i64,
    /// Stars below the list price, over every payment with the code (renewals included).
    pub discounted: i64,
    /// Stars received with the code, renewals included.
    pub revenue: i64,
}

impl Ledger {
    /// Uses of `code` in `bot`, in total and by `user_id`, as an invoice is about to be sent.
    pub async fn promo_uses(
        &self,
        bot: &BotId,
        code: &PromoCode,
        user_id: i64,
    ) -> Result<PromoUses, LedgerError> {
        let bot = bot.as_str();
        let mut conn = Conn::Read(self.reads.acquire().await?);
        count_uses(&mut conn, bot, code, user_id, self.stamp(), "").await
    }

    /// At pre-checkout: holds a use of `promo` for `order_id` if the limits still allow one,
    /// counting every payment and every other order's hold; `Ok(Err(_))` says which limit is
    /// reached. Asking again for the same order renews its hold.
    pub async fn hold_promo_use(
        &self,
        bot: &BotId,
        promo: &Promo,
        order_id: &OrderId,
        user_id: i64,
    ) -> Result<Result<(), PromoRefusal>, LedgerError> {
        let bot = bot.as_str();
        let order_id = order_id.as_str();
        self.run(Hold {
            bot: bot.to_owned(),
            promo: promo.clone(),
            order_id: order_id.to_owned(),
            user_id,
            at: self.stamp(),
        })
        .await
    }

    /// Uses, Stars discounted and revenue per code, per bot (or for one bot).
    pub async fn promo_stats(&self, bot: Option<&BotId>) -> Result<Vec<PromoStats>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(
            "SELECT bot, promo_code, \
             CAST(SUM(CASE WHEN is_renewal = 0 THEN 1 ELSE 0 END) AS BIGINT) AS uses, \
             CAST(SUM(COALESCE(list_price, amount) - amount) AS BIGINT) AS discounted, \
             CAST(SUM(amount) AS BIGINT) AS revenue \
             FROM payments WHERE promo_code IS NOT NULL AND status <> 'refunded' \
             AND ($1 IS NULL OR bot = $1) GROUP BY bot, promo_code ORDER BY bot, promo_code",
        )
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PromoStats {
                    bot: r.try_get("bot")?,
                    code: r.try_get("promo_code")?,
                    uses: r.try_get("uses")?,
                    discounted: r.try_get("discounted")?,
                    revenue: r.try_get("revenue")?,
                })
            })
            .collect()
    }
}

/// A use held for an approved order (see the module docs).
struct Hold {
    bot: String,
    promo: Promo,
    order_id: String,
    user_id: i64,
    at: i64,
}

impl Command for Hold {
    type Out = Result<(), PromoRefusal>;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<Self::Out, LedgerError> {
        let code = &self.promo.code;
        let uses = count_uses(conn, &self.bot, code, self.user_id, self.at, &self.order_id).await?;
        if let Err(refusal) = self.promo.check_uses(uses) {
            return Ok(Err(refusal));
        }
        query(
            "INSERT INTO promo_holds (bot, order_id, promo_code, user_id, held_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (bot, order_id) DO UPDATE SET held_at = excluded.held_at",
        )
        .bind(self.bot.as_str())
        .bind(self.order_id.as_str())
        .bind(code.as_str())
        .bind(self.user_id)
        .bind(self.at)
        .execute(conn)
        .await?;
        Ok(Ok(()))
    }
}
