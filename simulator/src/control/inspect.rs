//! Control routes that look inside the simulator (`GET /sim/...?token=`): what the bot sent,
//! called and earned, as the `SimHandle` inspection functions return it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Denied, SimState, fail, known_bot, ok};
use crate::handle::SimHandle;
use crate::state::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sim/messages", get(messages))
        .route("/sim/invoices", get(invoices))
        .route("/sim/transactions", get(transactions))
        .route("/sim/calls", get(calls))
        .route("/sim/subscriptions", get(subscriptions))
        .route("/sim/pending", get(pending))
        .route("/sim/paid-media", get(paid_media))
}

fn query(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn query_param(q: &HashMap<String, String>, name: &str) -> Result<String, Denied> {
    q.get(name)
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| {
            Denied(
                StatusCode::BAD_REQUEST,
                format!("query parameter {name:?} is required"),
            )
        })
}

/// Shared prologue of the GET endpoints: the query and a known bot token.
fn bot_query(
    shared: &Shared,
    raw: Option<String>,
) -> Result<(HashMap<String, String>, String), Denied> {
    let q = query(raw);
    let token = query_param(&q, "token")?;
    known_bot(shared, &token)?;
    Ok((q, token))
}

async fn messages(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (q, token) = try_resp!(bot_query(&shared, raw));
    let chat_id = try_resp!(query_param(&q, "chat_id"));
    let Ok(chat_id) = chat_id.parse::<i64>() else {
        return fail(StatusCode::BAD_REQUEST, "chat_id must be an integer");
    };
    ok(SimHandle::from_shared(shared).messages(&token, chat_id))
}

async fn invoices(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).invoices(&token))
}

async fn transactions(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).star_transactions(&token))
}

async fn calls(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).calls(&token))
}

async fn subscriptions(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).subscriptions(&token))
}

async fn pending(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).pending_updates(&token))
}

async fn paid_media(State(shared): SimState, RawQuery(raw): RawQuery) -> Response {
    let (_, token) = try_resp!(bot_query(&shared, raw));
    ok(SimHandle::from_shared(shared).paid_media_posts(&token))
}
