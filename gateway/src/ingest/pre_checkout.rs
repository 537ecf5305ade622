//! Answering pre-checkout queries (SPEC §4, guarantee 3): ingest reads the query, the shop
//! decides ([`Store::decide_pre_checkout`]), ingest answers, then the shop records the answer.
//! There are two ways to answer:
//! - **in the webhook reply**: the 2xx reply to the webhook call that brought the query carries
//!   the `answerPreCheckoutQuery` method, which Telegram executes. No request of its own, so the
//!   answer reaches Telegram as soon as it is decided; Telegram does not report whether it took it.
//! - **by request** (polling mode, and a query found in the inbox after a restart).
//!
//! The decision is made while the query is being stored; it has no effect until the answer goes
//! out, which waits for both, so nothing is answered that the ledger does not hold.

use teloxide_core::types::PreCheckoutQuery;
use tracing::Instrument;

use crate::ledger::StoredUpdate;
use crate::shop::{CheckoutDecision, ShopError, Store};
use crate::telegram::incoming::Incoming;
use crate::telegram::{PreCheckoutAnswer, answer_pre_checkout, with_retry};

/// The outcome of a query found too late to answer (only after a restart).
const EXPIRED: &str = "expired: received too long ago to answer";

/// Answers by request (`answerPreCheckoutQuery`) and records the answer; returns the outcome.
pub(super) async fn answer_by_request(
    store: &Store,
    q: &PreCheckoutQuery,
    received_ms: i64,
) -> Result<String, ShopError> {
    let Some(decision) = store.decide_pre_checkout(q, received_ms).await else {
        return Ok(EXPIRED.into());
    };
    let answer = answer_of(q, &decision);
    // A short 429, a 5xx or a dropped connection is tried again within the deadline: one hiccup
    // at Telegram must not cost the buyer the sale. (Sent by `answer_pre_checkout`, not teloxide,
    // because teloxide waits 10 s before it returns a 5xx.) A repeat of an answer that did arrive
    // is refused by Telegram, which changes nothing.
    let sending = with_retry(|| answer_pre_checkout(store.api(), &answer));
    let sent = tokio::time::timeout(decision.answer_within(), sending).await;
    let outcome = store.record_pre_checkout(q, &decision, received_ms).await?;
    match sent {
        Ok(Ok(_)) => Ok(outcome),
        Ok(Err(e)) => Err(crate::shop::tg("answerPreCheckoutQuery")(e)),
        Err(_) => Ok("pre-checkout answer timed out".into()),
    }
}

/// A query read from a webhook body and decided, waiting for its store to finish.
pub(super) struct Decided {
    query: Box<PreCheckoutQuery>,
    decision: CheckoutDecision,
}

/// Webhook mode, step one: reads and decides a pre-checkout query while it is being stored.
/// `None` when the body is not a readable query or the query is past Telegram's deadline; the
/// stored update is then handled as any other.
pub(super) async fn decide(store: &Store, update: &StoredUpdate) -> Option<Decided> {
    let Ok(Incoming::PreCheckout(query)) = Incoming::parse(&update.kind, &update.body) else {
        return None;
    };
    let decision = store
        .decide_pre_checkout(&query, update.received_at)
        .instrument(super::update_span(store, update))
        .await?;
    Some(Decided { query, decision })
}

impl Decided {
    /// The answer, as the body of the webhook's 2xx reply.
    pub(super) fn reply(&self) -> serde_json::Value {
        reply_method(&self.query, &self.decision)
    }

    /// Records the answer given in a webhook reply; returns the update's outcome (a ledger
    /// failure is the outcome too: the answer is out, so the update is done either way).
    pub(super) async fn record(self, store: &Store, received_ms: i64) -> String {
        match store
            .record_pre_checkout(&self.query, &self.decision, received_ms)
            .await
        {
            Ok(outcome) => format!("{outcome} (in the webhook reply)"),
            Err(e) => {
                tracing::error!(error = %e, "Answered a pre-checkout query but could not record the decision.");
                format!("answered in the webhook reply; not recorded: {e}")
            }
        }
    }
}

/// The `answerPreCheckoutQuery` method call, as the body of a webhook's 2xx reply: the same
/// fields as the answer by request, plus the method's name.
fn reply_method(q: &PreCheckoutQuery, decision: &CheckoutDecision) -> serde_json::Value {
    let mut method = serde_json::json!(answer_of(q, decision));
    method["method"] = "answerPreCheckoutQuery".into();
    method
}

/// The answer to `q`, by request or in a webhook reply.
fn answer_of<'a>(q: &'a PreCheckoutQuery, decision: &'a CheckoutDecision) -> PreCheckoutAnswer<'a> {
    PreCheckoutAnswer {
        pre_checkout_query_id: &q.id.0,
        ok: decision.ok(),
        error_message: decision.error_message(),
    }
}
