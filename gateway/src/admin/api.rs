//! The admin API: `Authorization: Bearer <token>` with the token from `admin.token_env`, compared
//! in constant time. Without a configured token every call is refused.
//!
//! | call | does |
//! |---|---|
//! | `GET /admin/payments?bot=&since=YYYY-MM-DD` | payments, as `ledger export` |
//! | `POST /admin/refund {"bot","charge_id"}` | the one refund path |
//! | `POST /admin/invoice-link {"bot","product"}` | an invoice link for a shop outside Telegram |
//! | `GET /admin/stats?bot=` | revenue and counts per bot and product |
//! | `GET /admin/subscriptions?bot=&user_id=` | a buyer's memberships in a bot |
//! | `POST /admin/subscriptions/cancel {"bot","user_id","product"}` | stops a membership's renewal (it runs to the end of its period) |
//! | `GET /admin/reload` | what the last reload (SIGHUP, `starsgate reload`) applied and rejected |

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::AdminState;
use crate::domain::ProductId;
use crate::ledger::ExportFilter;
use crate::shop::{RefundError, RenewalError, refund, set_renewal};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/payments", get(payments))
        .route("/admin/refund", post(refund_charge))
        .route("/admin/invoice-link", post(invoice_link))
        .route("/admin/stats", get(stats))
        .route("/admin/subscriptions", get(subscriptions))
        .route("/admin/subscriptions/cancel", post(cancel_subscription))
        .route("/admin/reload", get(last_reload))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "ok": false, "error": message.into() })),
    )
        .into_response()
}

/// Proof that the caller presented the admin token.
struct Admin;

impl FromRequestParts<AdminState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        let Some(token) = &state.token else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "the admin API is off: set the admin token variable",
            ));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            Ok(Admin)
        } else {
            tracing::warn!("Refused an admin API call with a wrong or missing token.");
            Err(error(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required",
            ))
        }
    }
}

#[derive(Deserialize)]
struct PaymentsQuery {
    bot: Option<String>,
    since: Option<String>,
}

async fn payments(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<PaymentsQuery>,
) -> Response {
    let since_ms = match q.since.as_deref() {
        None => None,
        Some(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => d
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis()),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("since: {s:?} is not a date like 2026-01-31"),
                );
            }
        },
    };
    match state
        .ledger
        .export(&ExportFilter {
            bot: q.bot,
            since_ms,
        })
        .await
    {
        Ok(records) => Json(json!({ "ok": true, "payments": records })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// A JSON body naming a bot: 400 if the body is malformed, 404 if there is no such bot. (The
/// error is a whole response; this runs once per admin call, so its size does not matter.)
#[allow(clippy::result_large_err)]
fn bot_call<T>(
    state: &AdminState,
    body: Result<Json<T>, JsonRejection>,
    bot: impl Fn(&T) -> &String,
) -> Result<(T, std::sync::Arc<crate::shop::Store>), Response> {
    let Json(body) = body.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let name = bot(&body).clone();
    let store = state
        .store(&name)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no bot {name:?}")))?;
    Ok((body, store))
}

#[derive(Deserialize)]
struct RefundBody {
    bot: String,
    charge_id: String,
}

async fn refund_charge(
    _: Admin,
    State(state): State<AdminState>,
    body: Result<Json<RefundBody>, JsonRejection>,
) -> Response {
    let (body, store) = match bot_call(&state, body, |b| &b.bot) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match refund(&store, &body.charge_id, "admin API").await {
        Ok(outcome) => Json(json!({ "ok": true, "outcome": outcome.to_string() })).into_response(),
        Err(e @ RefundError::UnknownCharge(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ RefundError::Telegram(_)) => error(StatusCode::BAD_GATEWAY, e.to_string()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct LinkBody {
    bot: String,
    product: String,
}

async fn invoice_link(
    _: Admin,
    State(state): State<AdminState>,
    body: Result<Json<LinkBody>, JsonRejection>,
) -> Response {
    let (body, store) = match bot_call(&state, body, |b| &b.bot) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let product = ProductId::parse(&body.product)
        .ok()
        .and_then(|id| store.current().config.product(&id).cloned())
        .filter(|p| p.on_sale);
    let Some(product) = product else {
        return error(
            StatusCode::NOT_FOUND,
            format!("bot {} sells no product {:?}", body.bot, body.product),
        );
    };
    match crate::shop::invoice::link(&store, &product).await {
        Ok((order_id, link)) => {
            Json(json!({ "ok": true, "order_id": order_id, "link": link })).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

#[derive(Deserialize)]
struct SubscriptionsQuery {
    bot: String,
    user_id: i64,
}

async fn subscriptions(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<SubscriptionsQuery>,
) -> Response {
    match state.ledger.subscriptions(&q.bot, q.user_id).await {
        Ok(subs) => {
            let subs: Vec<_> = subs
                .iter()
                .map(|s| {
                    json!({
                        "product": s.product,
                        "state": s.state,
                        "expires_at": crate::ledger::report::rfc3339(s.expires_at),
                        "first_charge_id": s.first_charge_id,
                        "last_charge_id": s.last_charge_id,
                    })
                })
                .collect();
            Json(json!({ "ok": true, "subscriptions": subs })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct CancelBody {
    bot: String,
    user_id: i64,
    product: String,
}

async fn cancel_subscription(
    _: Admin,
    State(state): State<AdminState>,
    body: Result<Json<CancelBody>, JsonRejection>,
) -> Response {
    let (body, store) = match bot_call(&state, body, |b| &b.bot) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let by = "an admin stopped the renewal (admin API)";
    match set_renewal(&store, body.user_id, &body.product, true, by).await {
        Ok(s) => Json(json!({
            "ok": true,
            "state": s.state,
            "runs_until": crate::ledger::report::rfc3339(s.expires_at),
        }))
        .into_response(),
        Err(e @ (RenewalError::NoSuchMembership { .. } | RenewalError::Expired)) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        Err(e @ RenewalError::Telegram(_)) => error(StatusCode::BAD_GATEWAY, e.to_string()),
        Err(e @ RenewalError::Ledger(_)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct StatsQuery {
    bot: Option<String>,
}

async fn stats(_: Admin, State(state): State<AdminState>, Query(q): Query<StatsQuery>) -> Response {
    match state.ledger.stats(q.bot.as_deref()).await {
        Ok(stats) => Json(json!({ "ok": true, "stats": stats })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn last_reload(_: Admin, State(state): State<AdminState>) -> Response {
    let last = state
        .last_reload
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(json!({ "ok": true, "last_reload": last })).into_response()
}
