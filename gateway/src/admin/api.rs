//! The admin API: `Authorization: Bearer <token>` with the token from `admin.token_env`, compared
//! in constant time. Without a configured token every call is refused.
//!
//! | call | does |
//! |---|---|
//! | `GET /admin/payments?bot=&since=YYYY-MM-DD` | payments, as `ledger export` |
//! | `POST /admin/refund {"bot","charge_id"}` | the one refund path |
//! | `POST /admin/deliver-again {"bot","charge_id"}` | sends a held delivery's stored content again (`delivery_failed`, `needs_review`) |
//! | `POST /admin/invoice-link {"bot","product"}` | an invoice link for a shop outside Telegram |
//! | `GET /admin/stats?bot=` | revenue and counts per bot and product; uses, Stars discounted and revenue per promo code |
//! | `GET /admin/subscriptions?bot=&user_id=` | a buyer's memberships in a bot |
//! | `POST /admin/subscriptions/cancel {"bot","user_id","product"}` | stops a membership's renewal (it runs to the end of its period) |
//! | `POST /admin/paid-media {"bot","chat","stars","caption"?,"media":[…]}` | posts paid media and records it (`paid_media.rs`) |
//! | `GET /admin/reload` | what the last reload (SIGHUP, `starsgate reload`) applied and rejected |
//!
//! Every refusal is `{"ok": false, "error": <one short line>}`: queries and bodies are read by
//! this module's own `Query` and `Body` extractors, which answer 400 (413 for a body over
//! [`BODY_LIMIT`], 415 without a JSON content type) in that shape; unknown paths and methods get
//! the same from the listener's fallbacks.

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::AdminState;
use crate::domain::ProductId;
use crate::ledger::ExportFilter;
use crate::outbox::AgainError;
use crate::shop::{RefundError, RenewalError, refund, set_renewal};

/// Largest admin API body accepted (413 above it); a call's body is a few names and ids.
pub const BODY_LIMIT: usize = 64 << 10;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/payments", get(payments))
        .route("/admin/refund", post(refund_charge))
        .route("/admin/deliver-again", post(deliver_again))
        .route("/admin/invoice-link", post(invoice_link))
        .route("/admin/stats", get(stats))
        .route("/admin/events", get(seller_events))
        .route("/admin/subscriptions", get(subscriptions))
        .route("/admin/subscriptions/cancel", post(cancel_subscription))
        .route("/admin/reload", get(last_reload))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Every refusal of the admin listener: `{"ok": false, "error": …}` with one short line (the
/// message may repeat the caller's input; see `crate::brief`).
pub(super) fn error(status: StatusCode, message: impl AsRef<str>) -> Response {
    let message = crate::brief::line(message.as_ref());
    (status, Json(json!({ "ok": false, "error": message }))).into_response()
}

/// A query string, read as `T`; a query that does not fit (a missing, repeated or malformed
/// parameter) is a JSON 400 like every other refusal, not axum's plain-text one.
struct Query<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(q)) => Ok(Query(q)),
            Err(e) => Err(error(StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
}

/// A JSON body, read as `T`; refused as JSON: 413 over [`BODY_LIMIT`], 415 without a JSON
/// content type, 400 for anything else that does not fit.
pub(super) struct Body<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(body)) => Ok(Body(body)),
            Err(e) => {
                let status = match e.status() {
                    s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(error(status, e.body_text()))
            }
        }
    }
}

/// Proof that the caller presented the admin token.
pub(super) struct Admin;

impl FromRequestParts<AdminState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        if state.token.is_none() {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "the admin API is off: set the admin token variable",
            ));
        }
        if has_bearer_token(parts, state) {
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

/// Whether the request carries `Authorization: Bearer <the admin token>` (compared in constant
/// time). False when no admin token is configured.
pub(super) fn has_bearer_token(parts: &Parts, state: &AdminState) -> bool {
    let given = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match (given, &state.token) {
        (Some(given), Some(token)) => is_admin_token(given, token),
        _ => false,
    }
}

/// Compares a presented token with the admin token in constant time.
pub(super) fn is_admin_token(given: &str, token: &crate::config::Secret) -> bool {
    bool::from(given.as_bytes().ct_eq(token.expose().as_bytes()))
}

/// The credentials of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
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
                    format!(
                        "since: {} is not a date like 2026-01-31",
                        crate::brief::value(s)
                    ),
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

/// A JSON body naming a bot: 404 if there is no such bot. (The error is a whole response; this
/// runs once per admin call, so its size does not matter.)
#[allow(clippy::result_large_err)]
pub(super) fn bot_call<T>(
    state: &AdminState,
    Body(body): Body<T>,
    bot: impl Fn(&T) -> &String,
) -> Result<(T, std::sync::Arc<crate::shop::Store>), Response> {
    let name = bot(&body);
    let store = state.store(name).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            format!("no bot {}", crate::brief::value(name)),
        )
    })?;
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
    body: Body<RefundBody>,
) -> Response {
    let (body, store) = match bot_call(&state, body, |b| &b.bot) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match refund(&store, &body.charge_id, "admin API").await {
        Ok(outcome) => Json(json!({ "ok": true, "outcome": outcome.to_string() })).into_response(),
        Err(e) => {
            let (status, message) = refund_refusal(&e);
            error(status, message)
        }
    }
}

async fn deliver_again(
    _: Admin,
    State(state): State<AdminState>,
    body: Body<RefundBody>,
) -> Response {
    let (body, store) = match bot_call(&state, body, |b| &b.bot) {
        Ok(found) => found,
        Err(response) => return response,
    };
    match crate::outbox::deliver_again(&store, &body.charge_id, "admin API").await {
        Ok(outcome) => Json(json!({ "ok": true, "outcome": outcome.to_string() })).into_response(),
        Err(e) => {
            let (status, message) = again_refusal(&e);
            error(status, message)
        }
    }
}

/// The status and message for a refused deliver-again (shared with the dashboard).
pub(super) fn again_refusal(e: &AgainError) -> (StatusCode, String) {
    let status = match e {
        AgainError::UnknownCharge(_) => StatusCode::NOT_FOUND,
        AgainError::Refunded(_) | AgainError::InProgress(_) | AgainError::NoContent(_) => {
            StatusCode::CONFLICT
        }
        AgainError::Telegram(_) => StatusCode::BAD_GATEWAY,
        AgainError::Ledger(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

/// The status and message for a refused refund (shared with the dashboard).
pub(super) fn refund_refusal(e: &RefundError) -> (StatusCode, String) {
    let status = match e {
        RefundError::UnknownCharge(_) => StatusCode::NOT_FOUND,
        RefundError::Telegram(_) => StatusCode::BAD_GATEWAY,
        RefundError::BalanceTooLow { .. } => StatusCode::CONFLICT,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

#[derive(Deserialize)]
struct LinkBody {
    bot: String,
    product: String,
}

async fn invoice_link(_: Admin, State(state): State<AdminState>, body: Body<LinkBody>) -> Response {
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
            format!(
                "bot {} sells no product {}",
                body.bot,
                crate::brief::value(&body.product)
            ),
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
    body: Body<CancelBody>,
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
struct EventsQuery {
    bot: Option<String>,
    status: Option<String>,
}

/// The seller events (`[events]`), e.g. `?status=failed` for the ones given up.
async fn seller_events(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<EventsQuery>,
) -> Response {
    use crate::ledger::{SellerEventFilter, SellerEventStatus};
    let status = match q.status.as_deref().map(SellerEventStatus::parse) {
        None => None,
        Some(Some(s)) => Some(s),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "status: must be pending, sent or failed",
            );
        }
    };
    let filter = SellerEventFilter {
        bot: q.bot,
        status,
        since_ms: None,
    };
    match state.ledger.seller_events(&filter).await {
        Ok(events) => {
            let rfc = crate::ledger::report::rfc3339;
            let events: Vec<_> = events
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id, "type": e.event_type.as_str(), "bot": e.bot,
                        "created_at": rfc(e.created_at), "status": e.status.as_str(),
                        "attempts": e.attempts, "last_error": e.last_error, "url": e.url,
                    })
                })
                .collect();
            Json(json!({ "ok": true, "events": events })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct StatsQuery {
    bot: Option<String>,
}

async fn stats(_: Admin, State(state): State<AdminState>, Query(q): Query<StatsQuery>) -> Response {
    let bot = q.bot.as_deref();
    let read = async {
        let stats = state.ledger.stats(bot).await?;
        let promos = state.ledger.promo_stats(bot).await?;
        let money = crate::ledger::money_by_bot(&state.ledger.star_totals(bot).await?);
        let mut balances = serde_json::Map::new();
        for store in state.stores.snapshot() {
            let id = store.id.as_str();
            if bot.is_some_and(|b| b != id) {
                continue;
            }
            if let Some(b) = state.ledger.star_balance(id).await? {
                let at = crate::ledger::report::rfc3339(b.checked_at);
                balances.insert(
                    id.to_owned(),
                    json!({ "stars": b.amount, "checked_at": at }),
                );
            }
        }
        Ok::<_, crate::ledger::LedgerError>(json!({
            "ok": true, "stats": stats, "promos": promos, "money": money, "balances": balances
        }))
    };
    match read.await {
        Ok(body) => Json(body).into_response(),
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
