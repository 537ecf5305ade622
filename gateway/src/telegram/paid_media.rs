//! sendPaidMedia as a raw JSON request. teloxide 0.17 has a typed `send_paid_media`, but its
//! `InputPaidMedia` carries an `InputFile`, which it sends as a multipart upload; a post here is
//! only URLs and file_ids, so plain JSON sends exactly what the seller named, and the answer is
//! read for the one thing the gateway keeps (the message id).

use serde::Serialize;
use serde_json::Value;
use teloxide_core::requests::{JsonRequest, Payload, Request};
use teloxide_core::{Bot, RequestError};

use crate::paid_media::{PostId, PostRequest};

#[derive(Debug, Clone, Serialize)]
struct SendPaidMediaRaw {
    chat_id: Value,
    star_count: u32,
    media: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    payload: String,
}

impl Payload for SendPaidMediaRaw {
    type Output = Value;
    const NAME: &'static str = "SendPaidMedia";
}

/// Sends the post with its id as the payload; returns the message id Telegram gave it (0 if the
/// answer lacks one, which only a broken server would send).
pub async fn send_paid_media(
    api: &Bot,
    post: &PostRequest,
    id: &PostId,
) -> Result<i64, RequestError> {
    let request = SendPaidMediaRaw {
        chat_id: post.chat.to_param(),
        star_count: post.stars.get(),
        media: post.media.iter().map(|m| m.to_input()).collect(),
        caption: post.caption.clone(),
        payload: id.as_str().to_owned(),
    };
    let message = JsonRequest::new(api.clone(), request).send().await?;
    Ok(message
        .get("message_id")
        .and_then(Value::as_i64)
        .unwrap_or(0))
}
