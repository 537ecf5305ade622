//! Star subscriptions: one row per (bot, buyer, product), moved forward by each paid charge
//! (first payment or renewal) and by the buyer's cancel and re-enable. The charges themselves
//! are payments, with the same exactly-once guarantees as any other.

use super::ids::id;
use crate::domain::{BotId, ChargeId, ProductId};
use crate::ledger::conn::{Conn, query};

use super::events::{EventKind, Subject, append};
use super::seller_events::stage::{About, Fact, stage};
use super::writer::Command;
use super::{Ledger, LedgerError};
use crate::domain::SellerEventType;

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// Paid and renewing.
    Active,
    /// Renewal stopped by the buyer; runs until its paid period ends.
    Cancelled,
    /// A renewal payment failed; access lasts through the grace period.
    Failed,
    /// Ended (lapsed, or its latest charge refunded). Only a new payment brings it back.
    Expired,
}

impl SubscriptionState {
    pub const ALL: [SubscriptionState; 4] =
        [Self::Active, Self::Cancelled, Self::Failed, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl std::fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for SubscriptionState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub bot: BotId,
    pub user_id: i64,
    pub product: ProductId,
    pub first_charge_id: ChargeId,
    pub last_charge_id: ChargeId,
    pub state: SubscriptionState,
    /// Unix ms.
    pub expires_at: i64,
}

impl Ledger {
    /// Records that `charge_id` paid the subscription until `expires_at` (unix ms): the first
    /// charge creates it, a renewal extends it. A charge older than the one on record does not
    /// move the expiry back.
    pub async fn subscription_paid(
        &self,
        bot: &BotId,
        user_id: i64,
        product: &ProductId,
        charge_id: &ChargeId,
        expires_at: i64,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(Paid {
            bot: bot.to_owned(),
            user_id,
            product: product.to_string(),
            charge_id: charge_id.to_owned(),
            expires_at,
            at: self.stamp(),
        })
        .await
    }

    /// Sets a subscription's state (`active`/`cancelled`/`failed`) and records why. An expired
    /// membership is left alone: only a new payment brings it back.
    pub async fn set_subscription_state(
        &self,
        bot: &BotId,
        user_id: i64,
        product: &ProductId,
        state: SubscriptionState,
        detail: &str,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        self.run(SetState {
            bot: bot.to_owned(),
            user_id,
            product: product.to_string(),
            state,
            detail: detail.to_owned(),
            at: self.stamp(),
        })
        .await
    }

    /// A buyer's subscriptions in a bot, soonest expiry first.
    pub async fn subscriptions(
        &self,
        bot: &BotId,
        user_id: i64,
    ) -> Result<Vec<Subscription>, LedgerError> {
        let bot = bot.as_str();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND user_id = $2 ORDER BY expires_at"
        ))
        .bind(bot)
        .bind(user_id)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The subscription a buyer's invoice payload (our order id) belongs to, as Telegram names
    /// it in a `subscription` update.
    pub async fn subscription_by_payload(
        &self,
        bot: &BotId,
        user_id: i64,
        payload: &str,
    ) -> Result<Option<Subscription>, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND user_id = $2 AND product = \
             (SELECT product FROM orders WHERE order_id = $3 AND bot = $1)"
        ))
        .bind(bot)
        .bind(user_id)
        .bind(payload)
        .fetch_optional(&self.reads)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Expires every membership of `bot` whose paid period ended more than `grace_ms` before
    /// `now_ms` and returns those this call expired. Each row moves by a conditional update, so
    /// when several gateways sweep at once exactly one of them expires (and revokes) it.
    pub async fn expire_due(
        &self,
        bot: &BotId,
        now_ms: i64,
        grace_ms: i64,
    ) -> Result<Vec<Subscription>, LedgerError> {
        let bot = bot.as_str();
        self.probes.sweep_started(bot, now_ms);
        let cutoff = now_ms.saturating_sub(grace_ms);
        let due = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions \
             WHERE bot = $1 AND expires_at < $2 AND state <> 'expired' ORDER BY expires_at LIMIT 500"
        ))
        .bind(bot)
        .bind(cutoff)
        .fetch_all(&self.reads)
        .await?;
        let mut expired = Vec::new();
        for row in &due {
            let sub = from_row(row)?;
            let moved = self
                .run(Expire {
                    sub: sub.clone(),
                    now_ms,
                })
                .await?;
            if moved {
                expired.push(sub);
            }
        }
        Ok(expired)
    }

    /// The subscription's latest charge was refunded: its access ends now, so it is expired
    /// (and the expiry sweep will not revoke it a second time). False when `charge_id` is not the
    /// latest charge of a running subscription.
    pub async fn subscription_refunded(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<Option<Subscription>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(Refunded {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            at: self.stamp(),
        })
        .await
    }
}

pub(super) const COLUMNS: &str =
    "bot, user_id, product, first_charge_id, last_charge_id, state, expires_at";

pub(super) fn from_row(r: &impl crate::ledger::conn::Fields) -> Result<Subscription, LedgerError> {
    Ok(Subscription {
        bot: id(r, "bot")?,
        user_id: r.try_get("user_id")?,
        product: id(r, "product")?,
        first_charge_id: id(r, "first_charge_id")?,
        last_charge_id: id(r, "last_charge_id")?,
        state: {
            let raw: String = r.try_get("state")?;
            SubscriptionState::parse(&raw).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown subscription state {raw:?}").into())
            })?
        },
        expires_at: r.try_get("expires_at")?,
    })
}

/// A charge that paid a subscription until `expires_at`.
struct Paid {
    bot: String,
    user_id: i64,
    product: String,
    charge_id: String,
    expires_at: i64,
    at: i64,
}

impl Command for Paid {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "INSERT INTO subscriptions (bot, user_id, product, first_charge_id, last_charge_id, state, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4, 'active', $5, $6) \
             ON CONFLICT (bot, user_id, product) DO UPDATE SET last_charge_id = excluded.last_charge_id, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at, \
             state = CASE WHEN subscriptions.state = 'cancelled' THEN 'cancelled' ELSE 'active' END \
             WHERE subscriptions.expires_at < excluded.expires_at",
        )
        .bind(&self.bot)
        .bind(self.user_id)
        .bind(&self.product)
        .bind(&self.charge_id)
        .bind(self.expires_at)
        .bind(self.at)
        .execute(&mut *conn)
        .await?;
        let subject = Subject {
            charge_id: Some(&self.charge_id),
            user_id: Some(self.user_id),
            ..Default::default()
        };
        let detail = format!("{} paid until {}", self.product, self.expires_at);
        append(
            conn,
            self.at,
            &self.bot,
            EventKind::SubscriptionChanged,
            subject,
            &detail,
        )
        .await?;
        // A renewal: the membership existed before this charge, which now pays it.
        let renewed = query(
            "SELECT 1 FROM subscriptions WHERE bot = $1 AND user_id = $2 AND product = $3 \
             AND last_charge_id = $4 AND first_charge_id <> $4",
        )
        .bind(&self.bot)
        .bind(self.user_id)
        .bind(&self.product)
        .bind(&self.charge_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
        if renewed {
            let fact = membership_fact(
                self.at,
                &self.bot,
                self.user_id,
                &self.product,
                &self.charge_id,
                SellerEventType::SubscriptionRenewed,
            );
            stage(conn, &[fact]).await?;
        }
        Ok(())
    }
}

/// A subscription's state set by the buyer or by Telegram (never out of `expired`).
struct SetState {
    bot: String,
    user_id: i64,
    product: String,
    state: SubscriptionState,
    detail: String,
    at: i64,
}

impl Command for SetState {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let done = query(
            "UPDATE subscriptions SET state = $1, updated_at = $2 \
             WHERE bot = $3 AND user_id = $4 AND product = $5 AND state <> $1 AND state <> $6",
        )
        .bind(self.state.as_str())
        .bind(self.at)
        .bind(&self.bot)
        .bind(self.user_id)
        .bind(&self.product)
        .bind(SubscriptionState::Expired.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if done {
            let subject = Subject {
                user_id: Some(self.user_id),
                ..Default::default()
            };
            let detail = format!("{} -> {}: {}", self.product, self.state, self.detail);
            append(
                conn,
                self.at,
                &self.bot,
                EventKind::SubscriptionChanged,
                subject,
                &detail,
            )
            .await?;
            let reported = match self.state {
                SubscriptionState::Cancelled => Some(SellerEventType::SubscriptionCancelled),
                SubscriptionState::Failed => Some(SellerEventType::SubscriptionFailed),
                SubscriptionState::Expired => Some(SellerEventType::SubscriptionExpired),
                SubscriptionState::Active => None,
            };
            if let Some(event_type) = reported {
                let charge: Option<String> = match query(
                    "SELECT last_charge_id FROM subscriptions \
                     WHERE bot = $1 AND user_id = $2 AND product = $3",
                )
                .bind(&self.bot)
                .bind(self.user_id)
                .bind(&self.product)
                .fetch_optional(&mut *conn)
                .await?
                {
                    Some(row) => row.try_get(0)?,
                    None => None,
                };
                let charge = charge.unwrap_or_default();
                let fact = membership_fact(
                    self.at,
                    &self.bot,
                    self.user_id,
                    &self.product,
                    &charge,
                    event_type,
                );
                stage(conn, &[fact]).await?;
            }
        }
        Ok(done)
    }
}

/// A membership whose paid period (and grace) ended, expired unless it moved meanwhile.
struct Expire {
    sub: Subscription,
    now_ms: i64,
}

impl Command for Expire {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.sub.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let sub = &self.sub;
        let moved = query(
            "UPDATE subscriptions SET state = 'expired', updated_at = $1 \
             WHERE bot = $2 AND user_id = $3 AND product = $4 AND state = $5 AND expires_at = $6",
        )
        .bind(self.now_ms)
        .bind(&sub.bot)
        .bind(sub.user_id)
        .bind(&sub.product)
        .bind(sub.state.as_str())
        .bind(sub.expires_at)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if moved {
            let subject = Subject {
                charge_id: Some(&sub.last_charge_id),
                user_id: Some(sub.user_id),
                ..Default::default()
            };
            let detail = format!(
                "{} -> expired: not renewed by {} (was {})",
                sub.product, sub.expires_at, sub.state
            );
            append(
                conn,
                self.now_ms,
                &sub.bot,
                EventKind::SubscriptionChanged,
                subject,
                &detail,
            )
            .await?;
            let fact = membership_fact(
                self.now_ms,
                &sub.bot,
                sub.user_id,
                &sub.product,
                &sub.last_charge_id,
                SellerEventType::SubscriptionExpired,
            );
            stage(conn, &[fact]).await?;
        }
        Ok(moved)
    }
}

/// A subscription whose latest charge was refunded, expired at once.
struct Refunded {
    bot: String,
    charge_id: String,
    at: i64,
}

impl Command for Refunded {
    type Out = Option<Subscription>;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<Option<Subscription>, LedgerError> {
        let (bot, charge_id) = (&self.bot, &self.charge_id);
        let row = query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND last_charge_id = $2 AND state <> 'expired'"
        ))
        .bind(bot)
        .bind(charge_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(sub) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        query(
            "UPDATE subscriptions SET state = 'expired', updated_at = $1 \
             WHERE bot = $2 AND user_id = $3 AND product = $4",
        )
        .bind(self.at)
        .bind(bot)
        .bind(sub.user_id)
        .bind(&sub.product)
        .execute(&mut *conn)
        .await?;
        let subject = Subject {
            charge_id: Some(charge_id),
            user_id: Some(sub.user_id),
            ..Default::default()
        };
        let detail = format!("{} -> expired: its latest charge was refunded", sub.product);
        let kind = EventKind::SubscriptionChanged;
        append(conn, self.at, bot, kind, subject, &detail).await?;
        let fact = membership_fact(
            self.at,
            bot,
            sub.user_id,
            &sub.product,
            charge_id,
            SellerEventType::SubscriptionExpired,
        );
        stage(conn, &[fact]).await?;
        Ok(Some(sub))
    }
}

/// A membership's change as a seller event.
fn membership_fact<'a>(
    at: i64,
    bot: &'a str,
    user_id: i64,
    product: &'a str,
    charge_id: &'a str,
    event_type: SellerEventType,
) -> Fact<'a> {
    Fact {
        at,
        bot,
        event_type,
        about: About::Membership {
            user_id,
            product,
            charge_id,
        },
    }
}
