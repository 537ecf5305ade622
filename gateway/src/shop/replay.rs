//! What a recorded delivery was made from, for `starsgate plugin replay`: the same input the
//! gateway built (the stored order's config snapshot, the payment's time, facts as of just before
//! it, the seed), the plugin version the order was sold with, and the content that was stored.

use std::sync::Arc;

use super::{ShopError, Store};
use crate::domain::ChargeId;
use crate::plugins::{CallContext, OrderView, PaymentView, Plugin};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// A recorded delivery's input and what came of it.
pub struct Recorded {
    pub ctx: CallContext,
    pub order: OrderView,
    pub payment: PaymentView,
    /// The plugin the order was sold with (or the product's current one, if that is gone).
    pub plugin: Arc<dyn Plugin>,
    /// The delivery stored in the ledger (JSON of the items), if one was made.
    pub stored: Option<String>,
}

pub async fn recorded_delivery(store: &Store, charge: &ChargeId) -> Result<Recorded, ReplayError> {
    let charge_id = charge.as_str();
    let missing = |what: &str| ReplayError::Missing(format!("{what} (charge {charge_id})"));
    let payment = store
        .ledger
        .payment(&store.id, charge)
        .await?
        .ok_or_else(|| missing("no such payment in this bot's ledger"))?;
    let current = store.current();
    let product = payment
        .product
        .as_ref()
        .and_then(|id| current.config.product(id).cloned())
        .ok_or_else(|| missing("its product is no longer configured"))?;
    let entry = current
        .plugins
        .pinned(&product.id, payment.plugin_sha256.as_deref())
        .ok_or_else(|| missing("its product has no plugin"))?;
    let (ctx, order, view) = super::plugin_input::for_payment(store, &product, &payment).await?;
    let stored = store.ledger.delivery_content(&store.id, charge).await?;
    Ok(Recorded {
        ctx,
        order,
        payment: view,
        plugin: entry.plugin,
        stored,
    })
}
