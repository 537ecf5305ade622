//! Stars subscriptions over time, and what a buyer does with one in Telegram's UI.
//!
//! Telegram charges a subscription again when its 30-day period ends, with no pre-checkout
//! query: each renewal is a new charge and a `successful_payment` with `is_recurring`. The
//! simulator does the same whenever simulated time crosses an expiry (`advance_time`), so a test
//! lets a month pass instead of scripting each renewal. What the bot cannot cause or foresee (a
//! renewal that fails, a buyer who cancels or re-enables in the app) reaches it as the Bot API
//! 10.2 `subscription` update (BotSubscriptionUpdated), queued here.

use serde_json::json;

use crate::handle::SimHandle;
use crate::methods::payments::{self, Paying};
use crate::queue::{Kind, Lane};
use crate::shapes;
use crate::state::{BotState, Ended, Registry, Subscription, World};
use crate::types::{PayOutcome, SimError};

/// The `state` values of BotSubscriptionUpdated.
const CANCELED: &str = "canceled";
const ACTIVE: &str = "active";
const FAILED: &str = "failed";

impl SimHandle {
    /// Telegram renews a subscription now, as it does at the end of a period: a new charge and
    /// a `successful_payment` with `is_recurring` (no pre-checkout query). `charge_id` may be any
    /// charge of the subscription.
    ///
    /// Returns [`PayOutcome::RenewalFailed`] when [`SimHandle::fail_next_renewal`] was armed.
    /// Refused when renewal is canceled or the subscription has stopped for good.
    pub fn renew_subscription(&self, token: &str, charge_id: &str) -> Result<PayOutcome, SimError> {
        self.with_subscription(token, charge_id, |bot, reg, index, now| {
            let sub = &bot.subscriptions[index];
            still_running(sub, charge_id)?;
            if sub.is_canceled {
                return Err(SimError::SubscriptionCanceled(charge_id.to_owned()));
            }
            Ok(renew(bot, reg, index, now, now))
        })
    }

    /// The buyer's next renewal payment will fail (say their Stars balance ran dry): whether
    /// the renewal comes from `advance_time` or [`SimHandle::renew_subscription`], nothing is
    /// charged, the bot gets a `subscription` update with state `"failed"`, and the subscription
    /// stops for good. `charge_id` may be any charge of the subscription.
    ///
    /// Arming a canceled subscription is allowed: the failure waits for a renewal that happens
    /// after it is re-enabled.
    pub fn fail_next_renewal(&self, token: &str, charge_id: &str) -> Result<(), SimError> {
        self.with_subscription(token, charge_id, |bot, _, index, _| {
            let sub = &mut bot.subscriptions[index];
            still_running(sub, charge_id)?;
            sub.fail_next_renewal = true;
            Ok(())
        })
    }

    /// The buyer cancels the subscription in Telegram: renewal stops (the paid period still
    /// runs to its end) and the bot gets a `subscription` update with state `"canceled"`.
    /// Returns that update's id.
    pub fn cancel_subscription_as_buyer(
        &self,
        token: &str,
        charge_id: &str,
    ) -> Result<i64, SimError> {
        self.with_subscription(token, charge_id, |bot, reg, index, now| {
            let sub = &mut bot.subscriptions[index];
            still_running(sub, charge_id)?;
            // The app offers "cancel" only on a subscription that renews.
            if sub.is_canceled {
                return Err(SimError::SubscriptionCanceled(charge_id.to_owned()));
            }
            sub.is_canceled = true;
            sub.canceled_by_bot = false;
            Ok(state_update(bot, reg, now, index, CANCELED))
        })
    }

    /// The buyer turns renewal back on for a subscription they canceled, before its period
    /// ends; the bot gets a `subscription` update with state `"active"`. Returns that update's
    /// id.
    ///
    /// Refused for a subscription the bot canceled: Telegram documents that only the bot's
    /// editUserStarSubscription(is_canceled=false) undoes the bot's own cancellation.
    pub fn reenable_subscription_as_buyer(
        &self,
        token: &str,
        charge_id: &str,
    ) -> Result<i64, SimError> {
        self.with_subscription(token, charge_id, |bot, reg, index, now| {
            let sub = &mut bot.subscriptions[index];
            still_running(sub, charge_id)?;
            if !sub.is_canceled {
                return Err(SimError::SubscriptionNotCanceled(charge_id.to_owned()));
            }
            if sub.canceled_by_bot {
                return Err(SimError::CanceledByBot(charge_id.to_owned()));
            }
            sub.is_canceled = false;
            Ok(state_update(bot, reg, now, index, ACTIVE))
        })
    }

    /// Runs `f` on the subscription that `charge_id` belongs to, under the world lock.
    fn with_subscription<R>(
        &self,
        token: &str,
        charge_id: &str,
        f: impl FnOnce(&mut BotState, &mut Registry, usize, i64) -> Result<R, SimError>,
    ) -> Result<R, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let charge = bot
            .charges
            .get(charge_id)
            .ok_or_else(|| SimError::UnknownCharge(charge_id.to_owned()))?;
        let index = charge
            .subscription
            .filter(|i| *i < bot.subscriptions.len())
            .ok_or_else(|| SimError::NotASubscription(charge_id.to_owned()))?;
        f(bot, reg, index, now)
    }
}

/// Every renewal and lapse that simulated time has reached, for every bot; `advance_time` calls
/// it after moving the clock.
///
/// Within a bot the subscriptions are handled earliest expiry first, one period at a time, so
/// updates come out in the order Telegram would have sent them however far the clock jumped.
pub(crate) fn run_due(world: &mut World, now: i64) {
    let World { bots, reg, .. } = world;
    for bot in bots.values_mut() {
        while let Some(index) = next_due(bot, now) {
            let sub = &mut bot.subscriptions[index];
            if sub.is_canceled {
                // A canceled subscription is not charged; its paid period simply ends.
                sub.ended = Some(Ended::Expired);
            } else {
                let due = sub.expires_at;
                renew(bot, reg, index, due, now);
            }
        }
    }
}

/// The running subscription with the earliest expiry at or before `now`. Each step either ends
/// it or moves its expiry a (positive, validated) period on, so the loop above terminates.
fn next_due(bot: &BotState, now: i64) -> Option<usize> {
    bot.subscriptions
        .iter()
        .enumerate()
        .filter(|(_, s)| s.ended.is_none() && s.period > 0 && s.expires_at <= now)
        .min_by_key(|(i, s)| (s.expires_at, *i))
        .map(|(i, _)| i)
}

/// A subscription that stopped for good (failed or expired) can no longer be renewed, armed to
/// fail, canceled or re-enabled: the buyer would have to subscribe again.
fn still_running(sub: &Subscription, charge_id: &str) -> Result<(), SimError> {
    match sub.ended {
        None => Ok(()),
        Some(_) => Err(SimError::SubscriptionEnded {
            charge_id: charge_id.to_owned(),
            state: sub.state().to_owned(),
        }),
    }
}

/// One renewal attempt, charged at `due` and queued at `now`: the armed failure if there is
/// one, otherwise exactly the charge a renewal makes.
fn renew(bot: &mut BotState, reg: &mut Registry, index: usize, due: i64, now: i64) -> PayOutcome {
    let sub = &mut bot.subscriptions[index];
    if std::mem::take(&mut sub.fail_next_renewal) {
        sub.ended = Some(Ended::Failed);
        let update_id = state_update(bot, reg, now, index, FAILED);
        return PayOutcome::RenewalFailed { update_id };
    }
    let (user_id, amount, payload) = (sub.user_id, sub.amount, sub.payload.clone());
    let settled = payments::settle(
        bot,
        reg,
        now,
        user_id,
        amount,
        &payload,
        Paying::Renewal { index, due },
    );
    PayOutcome::Paid {
        charge_id: settled.charge_id,
        update_id: settled.update_id,
    }
}

/// Queues BotSubscriptionUpdated in the buyer's lane, behind the payments it refers to.
/// Returns its update id (also when `allowed_updates` discarded it, as for any update).
fn state_update(bot: &mut BotState, reg: &Registry, now: i64, index: usize, state: &str) -> i64 {
    let sub = &bot.subscriptions[index];
    let user_id = sub.user_id;
    let name = reg.user_name(user_id).unwrap_or_default();
    let body = json!({
        "user": shapes::user(user_id, &name, &reg.language(user_id)),
        "invoice_payload": sub.payload,
        "state": state,
    });
    bot.push_update(now, Kind::Subscription, Lane::Chat(user_id), body)
        .update_id
}
