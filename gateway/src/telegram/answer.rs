//! `answerPreCheckoutQuery` sent on teloxide's HTTP client but not through its request path.
//!
//! Why: teloxide sleeps 10 s (`DELAY_ON_SERVER_ERROR` in `teloxide-core/src/net/request.rs`)
//! before it returns a 5xx, and 10 s is Telegram's whole deadline for this answer, so one 5xx on
//! the answer cost the buyer the sale. Here a 5xx comes back at once and [`super::with_retry`]
//! sends the answer again inside the deadline. Every other method keeps teloxide's path: a pause
//! after a 5xx harms nothing there.

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use teloxide_core::types::ResponseParameters;
use teloxide_core::{ApiError, Bot, RequestError};

/// The answer to one pre-checkout query: `ok`, and the buyer's message when it is a refusal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreCheckoutAnswer<'a> {
    pub pre_checkout_query_id: &'a str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
}

/// Sends `answer` once; a 5xx is an error at once, classified as teloxide would
/// (`telegram::classify` sees "Internal Server Error" and friends as transient).
pub async fn answer_pre_checkout(
    api: &Bot,
    answer: &PreCheckoutAnswer<'_>,
) -> Result<(), RequestError> {
    let mut url = api.api_url();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .push(&format!("bot{}", api.token()))
            .push("answerPreCheckoutQuery");
    }
    let body = serde_json::to_vec(answer).map_err(invalid_json(""))?;
    let response = api
        .client()
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
        .send()
        .await?;
    let text = response.text().await?;
    read_reply(&text)
}

/// What Telegram's JSON reply says, as the error teloxide would have returned.
#[derive(Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

fn read_reply(text: &str) -> Result<(), RequestError> {
    let reply: Reply = serde_json::from_str(text).map_err(invalid_json(text))?;
    if reply.ok {
        return Ok(());
    }
    Err(match reply.parameters {
        Some(ResponseParameters::RetryAfter(after)) => RequestError::RetryAfter(after),
        Some(ResponseParameters::MigrateToChatId(chat)) => RequestError::MigrateToChatId(chat),
        None => {
            let description = reply.description.unwrap_or_default();
            RequestError::Api(
                serde_json::from_value(serde_json::Value::String(description.clone()))
                    .unwrap_or(ApiError::Unknown(description)),
            )
        }
    })
}

fn invalid_json(raw: &str) -> impl FnOnce(serde_json::Error) -> RequestError + '_ {
    move |source| RequestError::InvalidJson {
        source: std::sync::Arc::new(source),
        raw: raw.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::{Failure, classify};

    #[test]
    fn a_server_error_is_transient_and_a_flood_wait_keeps_its_seconds() {
        let err =
            read_reply(r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#)
                .expect_err("a 500");
        assert!(matches!(classify(&err), Failure::Transient(_)), "{err:?}");
        let err = read_reply(
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        )
        .expect_err("a 429");
        assert_eq!(
            classify(&err),
            Failure::RetryAfter(std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn a_refusal_is_not_retried_and_a_page_that_is_not_json_is() {
        let err = read_reply(
            r#"{"ok":false,"error_code":400,"description":"Bad Request: query is too old"}"#,
        )
        .expect_err("a 400");
        assert!(matches!(classify(&err), Failure::Rejected(_)), "{err:?}");
        let err = read_reply("<html>502 Bad Gateway</html>").expect_err("not JSON");
        assert!(matches!(classify(&err), Failure::Transient(_)), "{err:?}");
        assert!(read_reply(r#"{"ok":true,"result":true}"#).is_ok());
    }
}
