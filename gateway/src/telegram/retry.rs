//! Brief retries for calls a buyer is waiting on (a reply, an invoice): a short 429 is waited
//! out and a 5xx or network failure is tried again, twice at most, so one hiccup at Telegram does
//! not leave a buyer without an invoice. Deliveries have their own, durable retries (the outbox).

use std::future::Future;
use std::time::Duration;

use teloxide_core::RequestError;

use super::{Failure, classify};

/// The longest `retry_after` worth waiting for while a buyer looks at the chat.
const MAX_WAIT: Duration = Duration::from_secs(5);
const PAUSES: [Duration; 2] = [Duration::from_millis(300), Duration::from_secs(1)];

pub async fn with_retry<T, Fut>(mut call: impl FnMut() -> Fut) -> Result<T, RequestError>
where
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut attempt = 0;
    loop {
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let pause = match classify(&err) {
            Failure::RetryAfter(d) if d <= MAX_WAIT => Some(d),
            Failure::Transient(_) => PAUSES.get(attempt).copied(),
            _ => None,
        };
        match pause {
            Some(p) if attempt < PAUSES.len() => {
                attempt += 1;
                tokio::time::sleep(p).await;
            }
            _ => return Err(err),
        }
    }
}
