//! Control routes for Stars subscriptions: what Telegram and the buyer do to one after the
//! first payment. Each takes `{token, charge_id}`, where `charge_id` is any charge of the
//! subscription, as the Rust API does.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::{ChargeReq, SimState, body, reply};
use crate::handle::SimHandle;
use crate::state::Shared;
use crate::types::SimError;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sim/renew", post(renew))
        .route("/sim/fail-renewal", post(fail_renewal))
        .route("/sim/subscription/cancel", post(cancel))
        .route("/sim/subscription/reenable", post(reenable))
}

/// Parses `{token, charge_id}` and answers with what `act` made of it.
fn on_charge<T: serde::Serialize>(
    shared: Arc<Shared>,
    bytes: &Bytes,
    act: impl FnOnce(&SimHandle, &str, &str) -> Result<T, SimError>,
) -> Response {
    match body::<ChargeReq>(bytes) {
        Ok(req) => reply(act(
            &SimHandle::from_shared(shared),
            &req.token,
            &req.charge_id,
        )),
        Err(denied) => denied.into_response(),
    }
}

/// Renews now; the result is the `PayOutcome` (`paid` or `renewal_failed`).
async fn renew(State(shared): SimState, bytes: Bytes) -> Response {
    on_charge(shared, &bytes, |sim, token, charge_id| {
        sim.renew_subscription(token, charge_id)
    })
}

async fn fail_renewal(State(shared): SimState, bytes: Bytes) -> Response {
    on_charge(shared, &bytes, |sim, token, charge_id| {
        sim.fail_next_renewal(token, charge_id).map(|()| true)
    })
}

async fn cancel(State(shared): SimState, bytes: Bytes) -> Response {
    on_charge(shared, &bytes, |sim, token, charge_id| {
        sim.cancel_subscription_as_buyer(token, charge_id)
            .map(|update_id| json!({ "update_id": update_id }))
    })
}

async fn reenable(State(shared): SimState, bytes: Bytes) -> Response {
    on_charge(shared, &bytes, |sim, token, charge_id| {
        sim.reenable_subscription_as_buyer(token, charge_id)
            .map(|update_id| json!({ "update_id": update_id }))
    })
}
