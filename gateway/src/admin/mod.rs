//! The admin listener (`[admin] listen`): health and readiness for load balancers, Prometheus
//! metrics, a bearer-token API for operators and shops outside Telegram, and the seller's
//! dashboard (`dashboard/`) at `/`. It binds where the
//! operator says (by default nowhere; `127.0.0.1:9090` in the example) and never serves a token.

mod api;
pub mod dashboard;
mod error;
pub mod metrics;
mod paid_media;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::{ReloadReport, Secret};
use crate::ledger::Ledger;
use crate::registry::Registry;
use crate::shop::Store;

#[derive(Clone)]
pub struct AdminState {
    pub ledger: Ledger,
    pub stores: Registry,
    pub token: Option<Secret>,
    /// The report of the last configuration reload, if any.
    pub last_reload: Arc<std::sync::Mutex<Option<ReloadReport>>>,
    /// Dashboard logins (one set per process).
    pub sessions: Arc<dashboard::session::Sessions>,
    /// How the gateway receives updates (shown on the dashboard's stores page).
    pub mode: crate::config::Mode,
}

impl AdminState {
    fn store(&self, bot: &str) -> Option<Arc<Store>> {
        self.stores.get(bot)
    }

    fn snapshot(&self) -> Vec<Arc<Store>> {
        self.stores.snapshot()
    }
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(|| async { metrics::render() }))
        .merge(api::routes())
        .merge(paid_media::routes())
        .merge(dashboard::routes())
        .fallback(|| async { api::error(StatusCode::NOT_FOUND, "there is no such path") })
        .method_not_allowed_fallback(|| async {
            api::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this path does not take that method",
            )
        })
        .with_state(state)
}

/// Ready when the ledger answers and every bot is connected (introduced or webhook registered)
/// by some gateway: this one if it holds the bot's lease.
async fn ready(State(state): State<AdminState>) -> Response {
    if !state.ledger.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the ledger does not answer\n",
        )
            .into_response();
    }
    let stores = state.snapshot();
    let waiting: Vec<&str> = stores
        .iter()
        .filter(|s| !s.is_ready())
        .map(|s| s.id.as_str())
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let text = format!(
            "not ready: bots not connected yet: {}\n",
            waiting.join(", ")
        );
        (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
    }
}
