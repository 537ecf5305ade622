//! The pre-checkout decision (SPEC §4, guarantee 3). Telegram waits at most 10 s for the answer;
//! everything here is bounded well inside that, and anything that goes wrong answers ok=false:
//! refusing costs a sale, approving blindly could take money for something we cannot deliver.

use std::time::Duration;

use teloxide_core::types::PreCheckoutQuery;

use super::{Current, PRE_CHECKOUT_DEADLINE, ShopError, Store};
use crate::config::Texts;
use crate::domain::{OrderId, XTR};
use crate::i18n::Msg;
use crate::ledger::{EventKind, Order, Subject, now_ms};
use crate::plugins::Decision;
use crate::pricing::{PromoCode, PromoRefusal};

/// Kept back from Telegram's deadline for the answer's own round trip.
const ANSWER_MARGIN: Duration = Duration::from_millis(1500);

/// What the buyer is shown when the answer is no.
enum Refusal {
    /// The catalogue's generic refusal ([`Msg::Refusal`]).
    Generic,
    /// The product was withdrawn after the invoice went out ([`Msg::Withdrawn`]).
    Withdrawn,
    /// The plugin's own message.
    Plugin(String),
    /// The order's promo code can no longer be used (see `shop::pricing`).
    Promo(PromoCode, PromoRefusal),
}

struct Verdict {
    ok: bool,
    /// Shown to the buyer (in their language) when `ok` is false.
    message: Refusal,
    /// For the ledger and logs.
    reason: String,
    order: Option<Order>,
}

impl Verdict {
    /// The update's outcome in the inbox.
    fn outcome(&self) -> String {
        let answer = if self.ok { "approved" } else { "refused" };
        format!("pre-checkout {answer}: {}", self.reason)
    }

    /// The refusal in the buyer's language.
    fn message(&self, texts: &Texts<'_>) -> String {
        match &self.message {
            Refusal::Generic => texts.msg(Msg::Refusal),
            Refusal::Withdrawn => texts.msg(Msg::Withdrawn),
            Refusal::Plugin(m) => m.clone(),
            Refusal::Promo(code, why) => {
                let text = format!(
                    "{} {}",
                    super::pricing::refusal_text(texts, code.as_str(), *why),
                    texts.msg(Msg::NotCharged)
                );
                crate::brief::cut(&text, crate::plugins::MAX_REJECT_CHARS)
            }
        }
    }

    fn refuse_promo(code: &PromoCode, why: PromoRefusal, order: Order) -> Self {
        Self {
            ok: false,
            message: Refusal::Promo(code.clone(), why),
            reason: format!("promo code {code} is {}", why.as_str()),
            order: Some(order),
        }
    }

    fn refuse(reason: impl Into<String>, order: Option<Order>) -> Self {
        Self {
            ok: false,
            message: Refusal::Generic,
            reason: reason.into(),
            order,
        }
    }
}

/// A pre-checkout decision, made within Telegram's deadline: what to answer, and what is left of
/// the time to answer in. Ingest sends the answer (in a webhook reply or by request); then
/// [`record`] writes it to the ledger.
pub struct CheckoutDecision {
    verdict: Verdict,
    /// The refusal in the buyer's language (`None` when approved).
    error_message: Option<String>,
    budget: Duration,
}

impl CheckoutDecision {
    pub fn ok(&self) -> bool {
        self.verdict.ok
    }

    /// What the buyer is shown when the answer is no.
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// How long the answer may still take to reach Telegram (its own round trip included).
    pub fn answer_within(&self) -> Duration {
        ANSWER_MARGIN + self.budget.saturating_sub(Duration::from_millis(1))
    }
}

/// Decides a pre-checkout query received at `received_ms`; `None` when it is already past
/// Telegram's deadline (only after a restart: an answer would be refused).
pub(super) async fn decide_query(
    store: &Store,
    current: &Current,
    q: &PreCheckoutQuery,
    received_ms: i64,
) -> Option<CheckoutDecision> {
    let (verdict, budget) = decide_in_time(store, current, q, received_ms).await?;
    let error_message = (!verdict.ok).then(|| {
        let texts = current.config.texts(q.from.language_code.as_deref());
        verdict.message(&texts)
    });
    Some(CheckoutDecision {
        verdict,
        error_message,
        budget,
    })
}

/// The verdict, decided within Telegram's deadline (less the margin for the answer's own trip),
/// and what is left of that budget; `None` when the query is already past the deadline.
async fn decide_in_time(
    store: &Store,
    current: &Current,
    q: &PreCheckoutQuery,
    received_ms: i64,
) -> Option<(Verdict, Duration)> {
    let waited = Duration::from_millis(now_ms().saturating_sub(received_ms).max(0) as u64);
    let budget = PRE_CHECKOUT_DEADLINE.checked_sub(waited + ANSWER_MARGIN)?;
    let verdict = match tokio::time::timeout(budget, decide(store, current, q)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => Verdict::refuse(format!("could not decide: {e}"), None),
        Err(_) => Verdict::refuse("the decision took too long", None),
    };
    Some((verdict, budget))
}

/// Metrics, a log line and the ledger event for an answer given; returns the update's outcome.
pub(super) async fn record(
    store: &Store,
    q: &PreCheckoutQuery,
    decision: &CheckoutDecision,
    received_ms: i64,
) -> Result<String, ShopError> {
    let verdict = &decision.verdict;
    let user = q.from.id.0 as i64;
    let label = store.metrics_label.clone();
    let seconds = (now_ms().saturating_sub(received_ms)).max(0) as f64 / 1000.0;
    metrics::histogram!("starsgate_precheckout_seconds", "bot" => label.clone()).record(seconds);
    let answer = if verdict.ok { "approved" } else { "refused" };
    metrics::counter!("starsgate_precheckouts_total", "bot" => label, "answer" => answer)
        .increment(1);
    tracing::info!(
        bot = %store.id, user, ok = verdict.ok, reason = %verdict.reason,
        "Answered a pre-checkout query."
    );
    let kind = if verdict.ok {
        EventKind::PreCheckoutApproved
    } else {
        EventKind::PreCheckoutRejected
    };
    let order_id = verdict.order.as_ref().map(|o| o.order_id.as_str());
    let subject = Subject {
        order_id,
        user_id: Some(user),
        ..Default::default()
    };
    store
        .ledger
        .record_event(&store.id, kind, subject, &verdict.reason)
        .await?;
    Ok(verdict.outcome())
}

async fn decide(
    store: &Store,
    current: &Current,
    q: &PreCheckoutQuery,
) -> Result<Verdict, ShopError> {
    let Some(order_id) = OrderId::parse(&q.invoice_payload) else {
        return Ok(Verdict::refuse(
            "the payload is not one of our orders",
            None,
        ));
    };
    let Some(order) = store.ledger.order(&order_id).await? else {
        return Ok(Verdict::refuse("no such order", None));
    };
    if order.bot != store.id.as_str() {
        return Ok(Verdict::refuse("the order belongs to another bot", None));
    }
    if q.currency != XTR || i64::from(q.total_amount) != order.price {
        let reason = format!(
            "asked {} {}, the order is {} {}",
            q.total_amount, q.currency, order.price, order.currency
        );
        return Ok(Verdict::refuse(reason, Some(order)));
    }
    let product = crate::domain::ProductId::parse(&order.product)
        .ok()
        .and_then(|id| current.config.product(&id).cloned());
    let Some(product) = product.filter(|p| p.on_sale) else {
        let mut v = Verdict::refuse("the product is no longer on sale", Some(order));
        v.message = Refusal::Withdrawn;
        return Ok(v);
    };
    let promo = match order.pricing.promo_code.clone() {
        Some(code) => match super::pricing::recheck(store, current, &product, &code) {
            Ok(promo) => Some(promo),
            Err(why) => return Ok(Verdict::refuse_promo(&code, why, order)),
        },
        None => None,
    };
    let Some(entry) = current
        .plugins
        .pinned(&product.id, order.plugin_sha256.as_deref())
    else {
        return Ok(Verdict::refuse(
            "the product has no plugin loaded",
            Some(order),
        ));
    };
    let language = q.from.language_code.clone();
    let user = q.from.id.0 as i64;
    let (ctx, view) =
        super::plugin_input::for_checkout(store, &product, &order, user, language).await?;
    let call = store
        .runner
        .pre_checkout(entry.plugin, &entry.breaker, ctx, view)
        .await;
    super::plugin_input::trace_call(store, product.id.as_str(), "pre-checkout", &call);
    if let (Ok(Decision::Approve), Some(promo)) = (&call.result, promo) {
        // Last: a use is held only for an order that is otherwise approved.
        let held = store
            .ledger
            .hold_promo_use(&store.id, promo, &order.order_id, user)
            .await?;
        if let Err(why) = held {
            return Ok(Verdict::refuse_promo(&promo.code, why, order));
        }
    }
    Ok(match call.result {
        Ok(Decision::Approve) => Verdict {
            ok: true,
            message: Refusal::Generic,
            reason: "approved".into(),
            order: Some(order),
        },
        Ok(Decision::Reject(message)) => Verdict {
            ok: false,
            reason: format!("the plugin refused: {message}"),
            message: Refusal::Plugin(message),
            order: Some(order),
        },
        Err(e) => {
            tracing::warn!(bot = %store.id, product = %product.id, error = %e, "A plugin failed at pre-checkout; refusing.");
            Verdict::refuse(format!("plugin failure: {e}"), Some(order))
        }
    })
}
