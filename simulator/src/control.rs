//! The `/sim/` control API: the play-a-buyer and inspection functions over HTTP, for people
//! running `starsgate sim` by hand (curl) and for tests in other processes.
//!
//! Answers are `{"ok":true,"result":...}`; mistakes are `{"ok":false,"description":...}` with
//! 400 (malformed request) or 404 (unknown bot, user, message, charge...).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::handle::SimHandle;
use crate::state::Shared;
use crate::types::{Fault, InvoiceRef, SimError};

/// Unwraps a `Result<_, Denied>` or answers the call with the denial. Defined above the
/// submodules so that they can use it too.
macro_rules! try_resp {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(denied) => return denied.into_response(),
        }
    };
}

mod inspect;
mod subscriptions;

type SimState = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sim", get(help))
        .route("/sim/", get(help))
        .route("/sim/bots", post(add_bot))
        .route("/sim/users", post(add_user))
        .route("/sim/block", post(block))
        .route("/sim/send", post(send))
        .route("/sim/press", post(press))
        .route("/sim/pay", post(pay))
        .route("/sim/repeat", post(repeat))
        .route("/sim/inject", post(inject))
        .route("/sim/refund", post(refund))
        .route("/sim/fault", post(fault))
        .route("/sim/advance", post(advance))
        .route("/sim/paid-media/buy", post(buy_paid_media))
        .merge(subscriptions::routes())
        .merge(inspect::routes())
}

const HELP: &str = "starsgate Telegram simulator: Bot API at /bot<token>/<method>\n\
POST /sim/bots {token, username}\n\
POST /sim/users {user_id, first_name}\n\
POST /sim/block {token, user_id, blocked}\n\
POST /sim/send {token, user_id, text}\n\
POST /sim/press {token, user_id, message_id, data}\n\
POST /sim/pay {token, user_id, message_id? | link?}   (neither: the latest invoice)\n\
POST /sim/repeat {token, update_id, same_id}\n\
POST /sim/inject {token, update}   (a raw update body, e.g. {\"message\": {...}})\n\
POST /sim/refund {token, charge_id}\n\
POST /sim/renew {token, charge_id}   (renews now: outcome paid or renewal_failed)\n\
POST /sim/fail-renewal {token, charge_id}   (its next renewal fails: no charge, state failed)\n\
POST /sim/subscription/cancel {token, charge_id}   (the buyer cancels: state canceled)\n\
POST /sim/subscription/reenable {token, charge_id}   (the buyer re-enables: state active)\n\
POST /sim/fault {token, method, kind: 429|5xx|slow|drop, retry_after?, millis?, times}\n\
POST /sim/paid-media/buy {token, user_id, chat_id, message_id}   (unlocks a paid media post)\n\
POST /sim/advance {secs}   (subscriptions whose period ends renew, fail or expire)\n\
GET  /sim/messages?token=&chat_id=\n\
GET  /sim/invoices?token=\n\
GET  /sim/transactions?token=\n\
GET  /sim/calls?token=\n\
GET  /sim/subscriptions?token=\n\
GET  /sim/pending?token=\n\
GET  /sim/paid-media?token=\n";

async fn help() -> &'static str {
    HELP
}

fn ok(result: impl serde::Serialize) -> Response {
    match serde_json::to_value(result) {
        Ok(result) => axum::Json(json!({ "ok": true, "result": result })).into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn fail(status: StatusCode, description: impl Into<String>) -> Response {
    let body = json!({ "ok": false, "description": description.into() });
    (status, axum::Json(body)).into_response()
}

/// A control-API mistake; kept small (unlike a `Response`) so helpers can return it cheaply.
struct Denied(StatusCode, String);

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        fail(self.0, self.1)
    }
}

fn sim_error(e: &SimError) -> Response {
    sim_denied(e).into_response()
}

fn sim_denied(e: &SimError) -> Denied {
    let status = match e {
        SimError::UnknownBot(_)
        | SimError::UnknownUser(_)
        | SimError::UnknownMessage { .. }
        | SimError::UnknownButton { .. }
        | SimError::UnknownInvoice(_)
        | SimError::UnknownUpdate(_)
        | SimError::UnknownCharge(_) => StatusCode::NOT_FOUND,
        SimError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        SimError::NotAnInvoice(_)
        | SimError::UnknownFileKind(_)
        | SimError::AlreadyRefunded(_)
        | SimError::NotASubscription(_)
        | SimError::SubscriptionCanceled(_)
        | SimError::SubscriptionEnded { .. }
        | SimError::SubscriptionNotCanceled(_)
        | SimError::CanceledByBot(_)
        | SimError::AlreadyUnlocked { .. }
        | SimError::NotPaidMedia(_) => StatusCode::BAD_REQUEST,
    };
    Denied(status, e.to_string())
}

fn reply<T: serde::Serialize>(result: Result<T, SimError>) -> Response {
    match result {
        Ok(value) => ok(value),
        Err(e) => sim_error(&e),
    }
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Denied> {
    serde_json::from_slice(bytes)
        .map_err(|e| Denied(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// Bot-scoped control calls 404 on unknown tokens rather than returning empty lists, so a typo
/// in a curl command is noticed.
fn known_bot(shared: &Shared, token: &str) -> Result<(), Denied> {
    if shared.world().bots.contains_key(token) {
        Ok(())
    } else {
        Err(sim_denied(&SimError::UnknownBot(token.to_owned())))
    }
}

#[derive(Deserialize)]
struct NewBot {
    token: String,
    username: Option<String>,
}

async fn add_bot(State(shared): SimState, bytes: Bytes) -> Response {
    let req: NewBot = try_resp!(body(&bytes));
    if req.token.is_empty() || req.token.contains('/') {
        return fail(
            StatusCode::BAD_REQUEST,
            "token must be non-empty and contain no '/'",
        );
    }
    let username = req.username.unwrap_or_else(|| "simulated_bot".to_owned());
    ok(SimHandle::from_shared(shared).add_bot(&req.token, &username))
}

#[derive(Deserialize)]
struct NewUser {
    user_id: i64,
    first_name: Option<String>,
}

async fn add_user(State(shared): SimState, bytes: Bytes) -> Response {
    let req: NewUser = try_resp!(body(&bytes));
    let name = req
        .first_name
        .unwrap_or_else(|| format!("User {}", req.user_id));
    SimHandle::from_shared(shared).add_user(req.user_id, &name);
    ok(true)
}

#[derive(Deserialize)]
struct Block {
    token: String,
    user_id: i64,
    blocked: Option<bool>,
}

async fn block(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Block = try_resp!(body(&bytes));
    try_resp!(known_bot(&shared, &req.token));
    SimHandle::from_shared(shared).block_bot(&req.token, req.user_id, req.blocked.unwrap_or(true));
    ok(true)
}

#[derive(Deserialize)]
struct Send {
    token: String,
    user_id: i64,
    text: String,
    first_name: Option<String>,
}

async fn send(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Send = try_resp!(body(&bytes));
    let sim = SimHandle::from_shared(shared);
    if let Some(name) = &req.first_name {
        sim.add_user(req.user_id, name);
    }
    reply(
        sim.try_send_text(&req.token, req.user_id, &req.text)
            .map(|update_id| json!({ "update_id": update_id })),
    )
}

#[derive(Deserialize)]
struct Press {
    token: String,
    user_id: i64,
    message_id: i64,
    data: String,
}

async fn press(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Press = try_resp!(body(&bytes));
    reply(
        SimHandle::from_shared(shared)
            .press_button(&req.token, req.user_id, req.message_id, &req.data)
            .map(|update_id| json!({ "update_id": update_id })),
    )
}

#[derive(Deserialize)]
struct Pay {
    token: String,
    user_id: i64,
    message_id: Option<i64>,
    link: Option<String>,
}

async fn pay(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Pay = try_resp!(body(&bytes));
    let invoice = match (req.message_id, req.link) {
        (Some(message_id), None) => InvoiceRef::Message { message_id },
        (None, Some(link)) => InvoiceRef::Link(link),
        (None, None) => InvoiceRef::Latest,
        (Some(_), Some(_)) => {
            return fail(StatusCode::BAD_REQUEST, "give message_id or link, not both");
        }
    };
    reply(
        SimHandle::from_shared(shared)
            .pay(&req.token, req.user_id, &invoice)
            .await,
    )
}

#[derive(Deserialize)]
struct Repeat {
    token: String,
    update_id: i64,
    #[serde(default)]
    same_id: bool,
}

async fn repeat(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Repeat = try_resp!(body(&bytes));
    reply(
        SimHandle::from_shared(shared)
            .repeat_update(&req.token, req.update_id, req.same_id)
            .map(|update_id| json!({ "update_id": update_id })),
    )
}

#[derive(Deserialize)]
struct Inject {
    token: String,
    update: Value,
}

async fn inject(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Inject = try_resp!(body(&bytes));
    reply(
        SimHandle::from_shared(shared)
            .try_inject_update(&req.token, req.update)
            .map(|update_id| json!({ "update_id": update_id })),
    )
}

#[derive(Deserialize)]
struct ChargeReq {
    token: String,
    charge_id: String,
}

async fn refund(State(shared): SimState, bytes: Bytes) -> Response {
    let req: ChargeReq = try_resp!(body(&bytes));
    reply(
        SimHandle::from_shared(shared)
            .refund_externally(&req.token, &req.charge_id)
            .map(|()| true),
    )
}

#[derive(Deserialize)]
struct FaultReq {
    token: String,
    method: Option<String>,
    kind: Value,
    retry_after: Option<u32>,
    millis: Option<u64>,
    times: Option<u32>,
}

async fn fault(State(shared): SimState, bytes: Bytes) -> Response {
    let req: FaultReq = try_resp!(body(&bytes));
    let times = req.times.unwrap_or(1);
    let kind = match &req.kind {
        Value::String(s) => s.to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let fault = match kind.as_str() {
        "429" | "too_many_requests" => Fault::TooManyRequests {
            retry_after: req.retry_after.unwrap_or(1),
            times,
        },
        "5xx" | "500" | "server_error" => Fault::ServerError { times },
        "slow" => Fault::Slow {
            millis: req.millis.unwrap_or(1000),
            times,
        },
        "drop" | "502" | "drop_response" => Fault::DropResponse { times },
        "400" | "bad_request" => Fault::BadRequest {
            description: "Bad Request: refused by the simulator's control API".into(),
            times,
        },
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "kind must be one of \"429\", \"5xx\", \"slow\", \"drop\"",
            );
        }
    };
    let method = req.method.unwrap_or_else(|| "*".to_owned());
    SimHandle::from_shared(shared).inject_fault(&req.token, &method, fault.clone());
    ok(fault)
}

#[derive(Deserialize)]
struct Advance {
    secs: i64,
}

async fn advance(State(shared): SimState, bytes: Bytes) -> Response {
    let req: Advance = try_resp!(body(&bytes));
    let sim = SimHandle::from_shared(shared);
    sim.advance_time(req.secs);
    ok(json!({ "now": sim.now() }))
}

#[derive(Deserialize)]
struct BuyPaidMedia {
    token: String,
    user_id: i64,
    chat_id: i64,
    message_id: i64,
}

async fn buy_paid_media(State(shared): SimState, bytes: Bytes) -> Response {
    let req: BuyPaidMedia = try_resp!(body(&bytes));
    reply(SimHandle::from_shared(shared).buy_paid_media(
        &req.token,
        req.user_id,
        req.chat_id,
        req.message_id,
    ))
}
