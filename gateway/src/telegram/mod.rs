//! The Bot API client side: teloxide's typed client per bot, a lossless getUpdates, what an API
//! error means for the caller, and the proxy that reaches Telegram's test environment.

mod answer;
mod balance;
mod errors;
pub mod incoming;
mod paid_media;
mod raw_updates;
mod retry;
mod test_env;

use std::time::Duration;

pub use answer::{PreCheckoutAnswer, answer_pre_checkout};
pub use balance::star_balance;
pub use errors::{Failure, classify, describe, is_already_refunded, redact};
pub use paid_media::send_paid_media;
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
    /// A bot's clients over the gateway's shared HTTP connections.
    pub fn new(token: &BotToken, api_url: &url::Url, http: &HttpClients) -> Self {
        Self {
            api: Bot::with_client(token.expose(), http.api.clone()).set_api_url(api_url.clone()),
            poll: Bot::with_client(token.expose(), http.poll.clone()).set_api_url(api_url.clone()),
        }
    }
}

/// The HTTP clients every bot of a gateway shares (cloning one shares its connection pool).
/// One pool per gateway rather than per bot: a bot's calls reuse connections other bots left
/// idle, so connections (and file descriptors) grow with the calls in flight, not with the
/// number of bots, and the TLS roots are loaded once. The pool opens a new connection whenever
/// none is idle, so one bot's slow call never waits behind another's.
#[derive(Clone, Debug)]
pub struct HttpClients {
    api: reqwest::Client,
    poll: reqwest::Client,
    poll_timeout: Duration,
}

impl HttpClients {
    pub fn new(poll_timeout: Duration) -> Self {
        Self {
            api: http_client(Duration::from_secs(15)),
            poll: http_client(poll_timeout + Duration::from_secs(10)),
            poll_timeout,
        }
    }

    /// The long-poll timeout these clients were built for.
    pub fn poll_timeout(&self) -> Duration {
        self.poll_timeout
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
