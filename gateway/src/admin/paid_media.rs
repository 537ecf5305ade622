//! `POST /admin/paid-media`: the admin API's twin of `starsgate paid-media send`, for a seller's
//! own tools. The body is `{"bot", "chat", "stars", "caption"?, "media": [MEDIA…]}`, MEDIA read by
//! the same rule as on the command line; the answer is the post's id, its message id and the
//! product its sales are exported as. Bad input is a 400 naming the field, an unknown bot a 404,
//! and Telegram's refusal keeps its meaning: 400 for a request it refused, 403 for a chat the bot
//! may not post in, 502 when it could not be reached.

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminState;
use super::api::{Admin, ApiResult, BODY_LIMIT, Body, bot_call};
use super::error::ApiError;
use crate::paid_media::PostRequest;
use crate::shop::paid_media::send_post;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/paid-media", post(paid_media))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

#[derive(Deserialize)]
struct PaidMediaBody {
    bot: String,
    /// A chat id (number or text) or a channel's `@username`.
    chat: Value,
    stars: i64,
    caption: Option<String>,
    #[serde(default)]
    media: Vec<String>,
}

async fn paid_media(
    _: Admin,
    State(state): State<AdminState>,
    body: Body<PaidMediaBody>,
) -> ApiResult {
    let (body, store) = bot_call(&state, body, |b| &b.bot)?;
    let chat = match &body.chat {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(ApiError::bad_request("chat: give a chat id or @username")),
    };
    let post = PostRequest::parse(&chat, body.stars, body.caption.as_deref(), &body.media)
        .map_err(|e| ApiError::bad_request(e.0))?;
    let posted = send_post(&store, &post, "admin API").await?;
    Ok(Json(json!({
        "ok": true,
        "post_id": posted.id.as_str(),
        "message_id": posted.message_id,
        "product": posted.id.product(),
    })))
}
