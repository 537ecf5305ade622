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
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AdminState;
use super::error::ApiError;
use crate::domain::{BotId, ChargeId, ProductId};
use crate::ledger::ExportFilter;
use crate::shop::{refund, set_renewal};

/// What every admin handler answers: a JSON body, or a refusal in the one shape.
pub(super) type ApiResult = Result<Json<Value>, ApiError>;

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

/// Every refusal of the admin listener as a response (see [`ApiError`]).
pub(super) fn error(status: StatusCode, message: impl AsRef<str>) -> Response {
    ApiError::new(status, message).into_response()
}

/// A query string, read as `T`; a query that does not fit (a missing, repeated or malformed
/// parameter) is a JSON 400 like every other refusal, not axum's plain-text one.
struct Query<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(q)) => Ok(Query(q)),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// A JSON body, read as `T`; refused as JSON: 413 over [`BODY_LIMIT`], 415 without a JSON
/// content type, 400 for anything else that does not fit.
pub(super) struct Body<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(body)) => Ok(Body(body)),
            Err(e) => {
                let status = match e.status() {
                    s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(ApiError::new(status, e.body_text()))
            }
        }
    }
}

/// Proof that the caller presented the admin token.
pub(super) struct Admin;

impl FromRequestParts<AdminState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, ApiError> {
        if state.token.is_none() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the admin API is off: set the admin token variable",
            ));
        }
        if has_bearer_token(parts, state) {
            Ok(Admin)
        } else {
            tracing::warn!("Refused an admin API call with a wrong or missing token.");
            Err(ApiError::new(
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
    bot: Option<BotId>,
    since: Option<String>,
}

async fn payments(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<PaymentsQuery>,
) -> ApiResult {
    let since_ms = q.since.as_deref().map(day_start_ms).transpose()?;
    let filter = ExportFilter {
        bot: q.bot,
        since_ms,
    };
    let records = state.ledger.export(&filter).await?;
    Ok(Json(json!({ "ok": true, "payments": records })))
}

/// The start of a `YYYY-MM-DD` day (UTC) in milliseconds.
fn day_start_ms(day: &str) -> Result<i64, ApiError> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| {
            let day = crate::brief::value(day);
            ApiError::bad_request(format!("since: {day} is not a date like 2026-01-31"))
        })
}

/// A JSON body naming a bot: 404 if there is no such bot.
pub(super) fn bot_call<T>(
    state: &AdminState,
    Body(body): Body<T>,
    bot: impl Fn(&T) -> &str,
) -> Result<(T, std::sync::Arc<crate::shop::Store>), ApiError> {
    let name = bot(&body);
    let store = state
        .store(name)
        .ok_or_else(|| ApiError::not_found(format!("no bot {}", crate::brief::value(name))))?;
    Ok((body, store))
}

#[derive(Deserialize)]
struct RefundBody {
    bot: BotId,
    charge_id: ChargeId,
}

async fn refund_charge(
    _: Admin,
    State(state): State<AdminState>,
    body: Body<RefundBody>,
) -> ApiResult {
    let (body, store) = bot_call(&state, body, |b| b.bot.as_str())?;
    let outcome = refund(&store, &body.charge_id, "admin API").await?;
    Ok(Json(json!({ "ok": true, "outcome": outcome.to_string() })))
}

async fn deliver_again(
    _: Admin,
    State(state): State<AdminState>,
    body: Body<RefundBody>,
) -> ApiResult {
    let (body, store) = bot_call(&state, body, |b| b.bot.as_str())?;
    let outcome = crate::outbox::deliver_again(&store, &body.charge_id, "admin API").await?;
    Ok(Json(json!({ "ok": true, "outcome": outcome.to_string() })))
}

#[derive(Deserialize)]
struct LinkBody {
    bot: String,
    product: String,
}

async fn invoice_link(
    _: Admin,
    State(state): State<AdminState>,
    body: Body<LinkBody>,
) -> ApiResult {
    let (body, store) = bot_call(&state, body, |b| b.bot.as_str())?;
    let product = ProductId::parse(&body.product)
        .ok()
        .and_then(|id| store.current().config.product(&id).cloned())
        .filter(|p| p.on_sale)
        .ok_or_else(|| {
            let asked = crate::brief::value(&body.product);
            ApiError::not_found(format!("bot {} sells no product {asked}", body.bot))
        })?;
    let (order_id, link) = crate::shop::invoice::link(&store, &product)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))?;
    Ok(Json(
        json!({ "ok": true, "order_id": order_id, "link": link }),
    ))
}

#[derive(Deserialize)]
struct SubscriptionsQuery {
    bot: BotId,
    user_id: i64,
}

async fn subscriptions(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<SubscriptionsQuery>,
) -> ApiResult {
    let subs: Vec<_> = state
        .ledger
        .subscriptions(&q.bot, q.user_id)
        .await?
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
    Ok(Json(json!({ "ok": true, "subscriptions": subs })))
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
) -> ApiResult {
    let (body, store) = bot_call(&state, body, |b| b.bot.as_str())?;
    let by = "an admin stopped the renewal (admin API)";
    let s = set_renewal(&store, body.user_id, &body.product, true, by).await?;
    Ok(Json(json!({
        "ok": true,
        "state": s.state,
        "runs_until": crate::ledger::report::rfc3339(s.expires_at),
    })))
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
) -> ApiResult {
    use crate::ledger::{SellerEventFilter, SellerEventStatus};
    let status = q
        .status
        .as_deref()
        .map(|s| {
            SellerEventStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request("status: must be pending, sent or failed"))
        })
        .transpose()?;
    let filter = SellerEventFilter {
        bot: q.bot,
        status,
        since_ms: None,
    };
    let rfc = crate::ledger::report::rfc3339;
    let events: Vec<_> = state
        .ledger
        .seller_events(&filter)
        .await?
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "type": e.event_type.as_str(), "bot": e.bot,
                "created_at": rfc(e.created_at), "status": e.status.as_str(),
                "attempts": e.attempts, "last_error": e.last_error, "url": e.url,
            })
        })
        .collect();
    Ok(Json(json!({ "ok": true, "events": events })))
}

#[derive(Deserialize)]
struct StatsQuery {
    bot: Option<BotId>,
}

async fn stats(
    _: Admin,
    State(state): State<AdminState>,
    Query(q): Query<StatsQuery>,
) -> ApiResult {
    let bot = q.bot.as_ref();
    let stats = state.ledger.stats(bot).await?;
    let promos = state.ledger.promo_stats(bot).await?;
    let money = crate::ledger::money_by_bot(&state.ledger.star_totals(bot).await?);
    let mut balances = serde_json::Map::new();
    for store in state.stores.snapshot() {
        let id = &store.id;
        if bot.is_some_and(|b| b != id) {
            continue;
        }
        if let Some(b) = state.ledger.star_balance(id).await? {
            let at = crate::ledger::report::rfc3339(b.checked_at);
            balances.insert(
                id.to_string(),
                json!({ "stars": b.amount, "checked_at": at }),
            );
        }
    }
    Ok(Json(json!({
        "ok": true, "stats": stats, "promos": promos, "money": money, "balances": balances
    })))
}

async fn last_reload(_: Admin, State(state): State<AdminState>) -> Json<Value> {
    let last = state
        .last_reload
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(json!({ "ok": true, "last_reload": last }))
}
