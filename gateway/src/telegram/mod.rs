//! The Bot API client side: teloxide's typed client per bot, a lossless getUpdates, what an API
//! error means for the caller, and the proxy that reaches Telegram's test environment.

mod errors;
mod raw_updates;
mod retry;
mod test_env;

use std::time::Duration;

pub use errors::{Failure, classify, describe, is_already_refunded, redact};
pub use raw_updates::{ALLOWED_UPDATES, GetUpdatesRaw, KindLabel, SetWebhookRaw, update_kind};
pub use retry::with_retry;
pub use test_env::TestEnvProxy;

use teloxide_core::Bot;

use crate::config::BotToken;

/// The two clients of one bot. Long polls get their own client because teloxide ignores a
/// request's timeout hint and applies the client's timeout: one client for both would either cut
/// long polls short or let an ordinary call hang for the whole poll timeout.
#[derive(Clone, Debug)]
pub struct BotClients {
    pub api: Bot,
    pub poll: Bot,
}

impl BotClients {
    pub fn new(token: &BotToken, api_url: &url::Url, poll_timeout: Duration) -> Self {
        let api = http_client(Duration::from_secs(15));
        let poll = http_client(poll_timeout + Duration::from_secs(10));
        Self {
            api: Bot::with_client(token.expose(), api).set_api_url(api_url.clone()),
            poll: Bot::with_client(token.expose(), poll).set_api_url(api_url.clone()),
        }
    }
}

fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}
