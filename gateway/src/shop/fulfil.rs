//! Generating a paid order's delivery with its product's plugin, once, and handing it to the
//! outbox. Content already stored is never regenerated, so a retry resends the same thing. The
//! plugin version is the one the order was sold with.

use std::time::Duration;

use super::plugin_input::{for_payment, trace_call};
use super::{Current, ShopError, Store};
use crate::ledger::{DueDelivery, Payment, PaymentStatus};
use crate::plugins::PluginError;

/// Pauses between attempts at a transient plugin failure, before the payment is marked failed.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];

/// Makes sure a paid order's delivery exists: content already stored is handed to the outbox
/// as it is, otherwise the plugin generates it.
pub async fn prepare_delivery(
    store: &Store,
    current: &Current,
    payment: &Payment,
) -> Result<(), ShopError> {
    if store
        .ledger
        .delivery_content(&store.id, &payment.charge_id)
        .await?
        .is_some()
    {
        store.outbox.notify_one();
        return Ok(());
    }
    generate_delivery(store, current, payment).await
}

/// Runs the plugin and stores what it delivers, without first looking for stored content: for a
/// payment this gateway has just recorded as new, no delivery can exist yet (one is only ever
/// stored for a recorded payment, and another gateway learns of this one only after the commit).
/// Should one race in anyway, the first stored content wins and both send that.
pub(super) async fn generate_delivery(
    store: &Store,
    current: &Current,
    payment: &Payment,
) -> Result<(), ShopError> {
    let bot = store.id.as_str();
    let charge = payment.charge_id.clone();
    let product = payment
        .product
        .as_ref()
        .and_then(|id| current.config.product(id).cloned());
    let entry = product.as_ref().and_then(|p| {
        current
            .plugins
            .pinned(&p.id, payment.plugin_sha256.as_deref())
    });
    let (Some(product), Some(entry)) = (product, entry) else {
        let why = "the product or its plugin is no longer configured";
        store
            .ledger
            .set_status(&store.id, &charge, PaymentStatus::DeliveryFailed, why)
            .await?;
        tracing::error!(bot, charge_id = %payment.charge_id, "Cannot prepare a paid delivery: {why}.");
        return Ok(());
    };
    let (ctx, order, view) = for_payment(store, &product, payment).await?;
    let mut attempt = 0;
    let delivery = loop {
        let call = store
            .runner
            .deliver(
                entry.plugin.clone(),
                &entry.breaker,
                ctx.clone(),
                order.clone(),
                view.clone(),
            )
            .await;
        trace_call(store, product.id.as_str(), "deliver", &call);
        match call.result {
            Ok(d) => break Ok(d),
            Err(e) if e.is_transient() && attempt < RETRY_PAUSES.len() => {
                tracing::warn!(bot, charge_id = %payment.charge_id, error = %e, "A plugin failed to deliver; retrying.");
                tokio::time::sleep(RETRY_PAUSES[attempt]).await;
                attempt += 1;
            }
            Err(e) => break Err::<_, PluginError>(e),
        }
    };
    match delivery {
        Ok(d) => {
            let content = serde_json::to_string(&d).unwrap_or_else(|_| "{\"items\":[]}".into());
            let content = store
                .ledger
                .store_delivery(&store.id, &charge, payment.chat_id, &content)
                .await?;
            crate::crashpoint::hit("delivery_prepared");
            store.outbox.hand(DueDelivery {
                charge_id: charge,
                chat_id: payment.chat_id,
                content,
                attempts: 0,
            });
        }
        Err(e) => {
            let reason = format!("the plugin could not produce the delivery: {e}");
            super::give_up(store, &charge, payment.chat_id, &reason).await?;
        }
    }
    Ok(())
}
