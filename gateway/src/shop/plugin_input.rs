//! Building a plugin call's input from the ledger: the product's config, the time, the seed and
//! the facts (previous purchases, units sold). Kept in one place so every hook sees the same
//! shapes.

use super::{ShopError, Store};
use crate::config::Product;
use crate::ledger::{Order, Payment, now_ms};
use crate::plugins::{Call, CallContext, OrderView, PaymentView};

/// The config an order was sold with (a snapshot taken with the invoice).
fn config_json(product: &Product, order: Option<&Order>) -> String {
    match order.and_then(|o| o.product_config.clone()) {
        Some(snapshot) => snapshot,
        None => serde_json::to_string(&product.config).unwrap_or_else(|_| "{}".into()),
    }
}

/// Input for the pre-checkout: facts as of now, a seed stable for the order.
pub(super) async fn for_checkout(
    store: &Store,
    product: &Product,
    order: &Order,
    user_id: i64,
    language_code: Option<String>,
) -> Result<(CallContext, OrderView), ShopError> {
    let bot = store.id.as_str();
    let facts = store
        .ledger
        .facts(&store.id, &product.id, user_id, None)
        .await?;
    let ctx = CallContext {
        config: config_json(product, Some(order)),
        now_unix: now_ms() / 1000,
        seed: store
            .seeds
            .seed(&[bot, product.id.as_str(), order.order_id.as_str()]),
        facts,
    };
    let view = OrderView {
        order_id: order.order_id.to_string(),
        bot_id: bot.to_owned(),
        product_id: product.id.to_string(),
        amount: u32::try_from(order.price).unwrap_or(0),
        currency: order.currency.clone(),
        user_id,
        language_code,
    };
    Ok((ctx, view))
}

/// Input for contract 0.2's `quote`, before the order is stored: facts as of now, the seed the
/// order's pre-checkout will see, and the order as it would be sold without the plugin.
pub(super) async fn for_quote(
    store: &Store,
    product: &Product,
    order_id: &str,
    (user_id, language_code): (i64, Option<String>),
    amount: u32,
) -> Result<(CallContext, OrderView), ShopError> {
    let bot = store.id.as_str();
    let facts = store
        .ledger
        .facts(&store.id, &product.id, user_id, None)
        .await?;
    let ctx = CallContext {
        config: config_json(product, None),
        now_unix: now_ms() / 1000,
        seed: store.seeds.seed(&[bot, product.id.as_str(), order_id]),
        facts,
    };
    let view = OrderView {
        order_id: order_id.to_owned(),
        bot_id: bot.to_owned(),
        product_id: product.id.to_string(),
        amount,
        currency: crate::domain::XTR.to_owned(),
        user_id,
        language_code,
    };
    Ok((ctx, view))
}

/// Input for deliver and refunded: facts as of just before this payment and a seed stable for
/// the payment, so a retried delivery is identical.
pub(super) async fn for_payment(
    store: &Store,
    product: &Product,
    payment: &Payment,
) -> Result<(CallContext, OrderView, PaymentView), ShopError> {
    let bot = store.id.as_str();
    let facts = store
        .ledger
        .facts(
            &store.id,
            &product.id,
            payment.user_id,
            Some((payment.paid_at, &payment.charge_id)),
        )
        .await?;
    let order_id = payment
        .order_id
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let sold = match &payment.order_id {
        Some(id) => store.ledger.order(id).await?,
        None => None,
    };
    let ctx = CallContext {
        config: config_json(product, sold.as_ref()),
        now_unix: payment.paid_at / 1000,
        seed: store
            .seeds
            .seed(&[bot, product.id.as_str(), &order_id, &payment.charge_id]),
        facts,
    };
    let amount = u32::try_from(payment.amount).unwrap_or(0);
    let order = OrderView {
        order_id,
        bot_id: bot.to_owned(),
        product_id: product.id.to_string(),
        amount,
        currency: payment.currency.clone(),
        user_id: payment.user_id,
        language_code: None,
    };
    let view = PaymentView {
        charge_id: payment.charge_id.to_string(),
        paid_at_unix: payment.paid_at / 1000,
        amount,
        is_renewal: payment.is_renewal,
        expires_at_unix: payment.expires_at.map(|ms| ms / 1000),
    };
    Ok((ctx, order, view))
}

/// Sends a call's logs and cost to our own logs, tagged with bot and product.
pub(super) fn trace_call<T>(store: &Store, product: &str, hook: &'static str, call: &Call<T>) {
    metrics::histogram!("starsgate_plugin_fuel", "hook" => hook).record(call.fuel_used as f64);
    if let Err(e) = &call.result {
        let kind = match e {
            crate::plugins::PluginError::Failed { .. } => "error",
            crate::plugins::PluginError::Trap(_) => "trap",
            crate::plugins::PluginError::Timeout(_) => "timeout",
            crate::plugins::PluginError::InvalidOutput(_) => "invalid_output",
            crate::plugins::PluginError::Unavailable(_) => "unavailable",
        };
        metrics::counter!("starsgate_plugin_failures_total", "hook" => hook, "kind" => kind)
            .increment(1);
    }
    for line in &call.logs {
        tracing::info!(bot = %store.id, product, hook, plugin_log = %line, "A plugin logged a line.");
    }
    tracing::debug!(
        bot = %store.id, product, hook, fuel = call.fuel_used, peak_memory = call.peak_memory,
        ok = call.result.is_ok(), "A plugin call finished."
    );
}
