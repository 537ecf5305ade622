//! `successful_payment`: record once per charge id (guarantee 2), check the money against the
//! order (guarantee 4), then prepare the delivery. Recording commits before anything else
//! happens, so a crash after this point loses nothing: recovery finds the paid payment.

use teloxide_core::types::{Message, SuccessfulPayment};
use tracing::Instrument;

use super::{Current, ShopError, Store, fulfil, reply::say};
use crate::domain::{ChargeId, OrderId, XTR};
use crate::ledger::{NewPayment, Order, PaymentStatus, Pricing, Recorded};

/// A payment as Telegram reported it, by a `successful_payment` message or (when that never
/// arrived) by getStarTransactions during reconciliation.
#[derive(Debug, Clone)]
pub struct PaidFacts<'a> {
    pub charge: &'a ChargeId,
    pub payload: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub user_id: i64,
    pub chat_id: i64,
    pub provider_charge_id: Option<&'a str>,
    pub update_id: Option<i64>,
    /// A subscription renewal (Telegram's `is_recurring` without `is_first_recurring`).
    pub is_renewal: bool,
    /// Until when a subscription charge pays (`subscription_expiration_date`), unix ms.
    pub expires_at: Option<i64>,
}

pub(super) async fn on_successful_payment(
    store: &Store,
    current: &Current,
    msg: &Message,
    paid: &SuccessfulPayment,
    update_id: i64,
) -> Result<String, ShopError> {
    let charge = match ChargeId::parse(&paid.telegram_payment_charge_id.0) {
        Ok(c) => c,
        Err(e) => {
            store
                .ledger
                .mark_unreadable(&store.id, update_id, &format!("successful_payment: {e}"))
                .await?;
            return Ok("unreadable: bad charge id".into());
        }
    };
    let user_id = msg
        .from
        .as_ref()
        .map(|u| u.id.0 as i64)
        .unwrap_or(msg.chat.id.0);
    let facts = PaidFacts {
        charge: &charge,
        payload: &paid.invoice_payload,
        amount: i64::from(paid.total_amount),
        currency: &paid.currency,
        user_id,
        chat_id: msg.chat.id.0,
        provider_charge_id: Some(paid.provider_payment_charge_id.as_str())
            .filter(|s| !s.is_empty()),
        update_id: Some(update_id),
        is_renewal: paid.is_recurring && !paid.is_first_recurring,
        expires_at: paid
            .subscription_expiration_date
            .map(|d| d.timestamp_millis()),
    };
    let span = tracing::info_span!("payment", charge_id = %charge);
    settle(store, current, &facts).instrument(span).await
}

/// Records a payment once, checks the money against its order, and prepares the delivery.
pub async fn settle(
    store: &Store,
    current: &Current,
    paid: &PaidFacts<'_>,
) -> Result<String, ShopError> {
    let bot = store.id.as_str();
    let charge = paid.charge;
    let amount = paid.amount;
    let order = order_of(store, paid).await?;
    let review_reason = review_reason(order.as_ref(), paid);
    let recorded = record(store, paid, order.as_ref(), review_reason.clone()).await?;
    crate::crashpoint::hit("payment_recorded");
    start_subscription(store, &recorded, paid).await?;
    let payment = recorded.payment().clone();
    let next = Next::of(&recorded, payment.status);
    metrics::counter!("starsgate_payments_total", "bot" => store.metrics_label.clone(), "result" => next.result()).increment(1);
    match next {
        Next::HoldForReview => hold_for_review(store, paid, review_reason.as_deref()).await,
        Next::Deliver => {
            tracing::info!(bot, charge_id = %charge, amount, "Recorded a payment.");
            fulfil::generate_delivery(store, current, &payment).await?;
            Ok("recorded: paid".into())
        }
        Next::EnsureDelivery => {
            // A repeat while the first is still undelivered: make sure content exists (it may
            // not, if we crashed between recording and generating). Generation is idempotent.
            fulfil::prepare_delivery(store, current, &payment).await?;
            Ok("repeat: delivery ensured".into())
        }
        Next::Nothing(status) => Ok(format!("repeat: already {status}, nothing to do")),
    }
}

/// What a recorded payment calls for, decided once from whether this charge is new and the
/// status the ledger holds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// New, and the money does not match its order: held for a person, nothing delivered.
    HoldForReview,
    /// New and matching its order: generate the delivery.
    Deliver,
    /// Seen before and still paid (perhaps undelivered): make sure the delivery exists.
    EnsureDelivery,
    /// Seen before and already past paid (delivered, refunded, held): nothing to do.
    Nothing(PaymentStatus),
}

impl Next {
    fn of(recorded: &Recorded, status: PaymentStatus) -> Self {
        match (recorded, status) {
            (Recorded::New(_), PaymentStatus::NeedsReview) => Self::HoldForReview,
            (Recorded::New(_), _) => Self::Deliver,
            (Recorded::Repeat(_), PaymentStatus::Paid) => Self::EnsureDelivery,
            (Recorded::Repeat(_), status) => Self::Nothing(status),
        }
    }

    /// The `result` label of `starsgate_payments_total`.
    fn result(self) -> &'static str {
        match self {
            Self::HoldForReview => "needs_review",
            Self::Deliver => "new",
            Self::EnsureDelivery | Self::Nothing(_) => "repeat",
        }
    }
}

/// The order the payload names, if it is one of this bot's.
async fn order_of(store: &Store, paid: &PaidFacts<'_>) -> Result<Option<Order>, ShopError> {
    let order = match OrderId::parse(paid.payload) {
        Some(id) => store.ledger.order(&id).await?,
        None => None,
    };
    Ok(order.filter(|o| o.bot == store.id))
}

/// Why the payment must be held for review (no such order, another currency, another amount),
/// or `None` when it matches its order.
fn review_reason(order: Option<&Order>, paid: &PaidFacts<'_>) -> Option<String> {
    let amount = paid.amount;
    match order {
        None => Some(format!(
            "payload {:?} is not an order of this bot",
            paid.payload
        )),
        Some(_) if paid.currency != XTR => Some(format!("paid in {}, not {XTR}", paid.currency)),
        Some(o) if amount != o.price => Some(format!(
            "paid {amount} {XTR}, the order is {} {XTR}",
            o.price
        )),
        Some(_) => None,
    }
}

/// Records the charge once (guarantee 2); a charge already recorded comes back as a repeat.
async fn record(
    store: &Store,
    paid: &PaidFacts<'_>,
    order: Option<&Order>,
    review_reason: Option<String>,
) -> Result<Recorded, ShopError> {
    let amount = paid.amount;
    let recorded = store
        .ledger
        .record_payment(&NewPayment {
            bot: &store.id,
            charge_id: paid.charge,
            order_id: order.map(|o| &o.order_id),
            payload: paid.payload,
            user_id: paid.user_id,
            chat_id: paid.chat_id,
            product: order.map(|o| &o.product),
            amount,
            currency: paid.currency,
            provider_charge_id: paid.provider_charge_id,
            plugin_sha256: order.and_then(|o| o.plugin_sha256.as_deref()),
            update_id: paid.update_id,
            review_reason,
            is_renewal: paid.is_renewal,
            expires_at: paid.expires_at,
            pricing: order
                .map(|o| o.pricing.clone())
                .unwrap_or_else(|| Pricing::list(amount)),
        })
        .await?;
    Ok(recorded)
}

/// A new subscription charge that is not held for review extends the buyer's membership until
/// the date Telegram gave; anything else leaves subscriptions alone.
async fn start_subscription(
    store: &Store,
    recorded: &Recorded,
    paid: &PaidFacts<'_>,
) -> Result<(), ShopError> {
    if let (Recorded::New(p), Some(until)) = (recorded, paid.expires_at)
        && let Some(product) = p
            .product
            .as_ref()
            .filter(|_| p.status != PaymentStatus::NeedsReview)
    {
        store
            .ledger
            .subscription_paid(&store.id, p.user_id, product, paid.charge, until)
            .await?;
    }
    Ok(())
}

/// Tells the buyer and the admins that a new payment which does not match its order is held.
async fn hold_for_review(
    store: &Store,
    paid: &PaidFacts<'_>,
    review_reason: Option<&str>,
) -> Result<String, ShopError> {
    let bot = store.id.as_str();
    let charge = paid.charge;
    tracing::warn!(
        bot, charge_id = %charge, reason = review_reason.unwrap_or(""),
        "A payment does not match its order; it is recorded and held for review."
    );
    let text = "We received your payment, but it does not match the order, so a person will check it \
                before anything is delivered. Nothing is lost. /paysupport reaches the seller.";
    say(store, teloxide_core::types::ChatId(paid.chat_id), text).await?;
    let reason = review_reason.unwrap_or("the payment does not match its order");
    super::tell_admins(store, charge.as_str(), super::Alert::HeldForReview, reason).await;
    Ok("recorded: needs review".into())
}
