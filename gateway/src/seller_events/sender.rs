//! The gateway's one sender of seller events: it finds due events in the ledger, claims each
//! (so no other gateway sends it meanwhile), POSTs it signed, and records the outcome.
//!
//! Why one task per gateway rather than per bot: events are few next to updates, and an idle
//! gateway then asks the ledger once per [`POLL_EVERY`] whatever the number of bots.
//!
//! One slow or dead endpoint never holds up anything else: sends run as their own tasks, at most
//! [`MAX_IN_FLIGHT_PER_ENDPOINT`] per URL, and the ledger is asked only for events of URLs with
//! room, and for no more than the room: a hanging endpoint's backlog costs nothing per poll.
//! Sales never wait for events at all: the shop only writes them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::retry;
use super::signature;
use crate::clock::Clock;
use crate::holder::Holder;
use crate::ledger::{Ledger, SellerEvent, SendOutcome};
use crate::registry::Registry;

/// How often the ledger is asked for due events.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// How long an endpoint has to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight to one endpoint URL at most.
pub const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 4;
/// How long a claim keeps other gateways off an event: longer than a send can take.
pub const CLAIM: Duration = Duration::from_secs(30);
/// How often the age of the oldest pending event is measured for the metrics.
const GAUGE_EVERY: Duration = Duration::from_secs(10);

/// Where secrets are looked up by variable name (the process environment, or a test's map).
pub type Secrets = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Sender {
    ledger: Ledger,
    clock: Clock,
    holder: Holder,
    secrets: Secrets,
    stores: Registry,
    http: reqwest::Client,
    /// Sends in flight, per URL, and which events they are.
    busy: Mutex<Busy>,
}

#[derive(Default)]
struct Busy {
    per_url: HashMap<String, usize>,
    events: HashSet<i64>,
}

impl Sender {
    pub fn new(
        ledger: Ledger,
        clock: Clock,
        holder: Holder,
        secrets: Secrets,
        stores: Registry,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("starsgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            ledger,
            clock,
            holder,
            secrets,
            stores,
            http,
            busy: Mutex::new(Busy::default()),
        }
    }

    /// Sends due events until `stop`, then abandons the sends in flight: a hanging endpoint must
    /// not hold up a shutdown, and an abandoned send is sent again once its claim runs out (the
    /// receiver dedupes on the event id).
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut sends = JoinSet::new();
        let mut gauge_at = tokio::time::Instant::now();
        loop {
            while sends.try_join_next().is_some() {}
            if let Err(e) = self.start_due(&mut sends).await {
                tracing::warn!(error = %e, "Could not read the seller events that are due; trying again shortly.");
            }
            if tokio::time::Instant::now() >= gauge_at {
                gauge_at += GAUGE_EVERY;
                self.measure_oldest().await;
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(POLL_EVERY) => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
            }
        }
        sends.shutdown().await;
    }

    /// Claims and starts the sends that are due, as far as each endpoint has room. The ledger is
    /// asked once per endpoint with room, for no more events than it has room for, so a hanging
    /// endpoint's backlog is never read while its sends are in flight.
    async fn start_due(
        self: &Arc<Self>,
        sends: &mut JoinSet<()>,
    ) -> Result<(), crate::ledger::LedgerError> {
        let now = self.clock.now_ms();
        let until = now + i64::try_from(CLAIM.as_millis()).unwrap_or(i64::MAX);
        for url in self.ledger.pending_event_urls().await? {
            let room = self.with_busy(|b| {
                MAX_IN_FLIGHT_PER_ENDPOINT
                    - b.per_url
                        .get(&url)
                        .copied()
                        .unwrap_or(0)
                        .min(MAX_IN_FLIGHT_PER_ENDPOINT)
            });
            if room == 0 {
                continue;
            }
            // Events of ours in flight are claimed, so the ledger does not return them again.
            let due = self
                .ledger
                .due_seller_events(&url, now, i64::try_from(room).unwrap_or(0))
                .await?;
            let due: Vec<SellerEvent> = self.with_busy(|b| {
                due.into_iter()
                    .filter(|e| !b.events.contains(&e.seq))
                    .collect()
            });
            for event in self
                .ledger
                .claim_seller_events(due, &self.holder, until)
                .await?
            {
                self.with_busy(|b| {
                    *b.per_url.entry(event.url.clone()).or_default() += 1;
                    b.events.insert(event.seq);
                });
                let span = tracing::info_span!("seller_event", bot = %event.bot, event_id = %event.id, event_type = %event.event_type);
                let me = self.clone();
                sends.spawn(async move { me.send(event).await }.instrument(span));
            }
        }
        Ok(())
    }

    fn with_busy<T>(&self, f: impl FnOnce(&mut Busy) -> T) -> T {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut busy)
    }

    /// One attempt at `event`, and its outcome recorded.
    async fn send(self: Arc<Self>, event: SellerEvent) {
        let attempt = self.attempt(&event).await;
        let now = self.clock.now_ms();
        let outcome = match attempt {
            Ok(()) => SendOutcome::Sent,
            Err(error) => {
                let failures = u32::try_from(event.attempts + 1).unwrap_or(u32::MAX);
                let next_attempt_at =
                    now + i64::try_from(retry::delay(failures).as_millis()).unwrap_or(i64::MAX);
                let window = i64::try_from(retry::GIVE_UP_AFTER.as_millis()).unwrap_or(i64::MAX);
                if next_attempt_at - event.queued_at > window {
                    SendOutcome::Failed { error }
                } else {
                    SendOutcome::Retry {
                        next_attempt_at,
                        error,
                    }
                }
            }
        };
        let result = match &outcome {
            SendOutcome::Sent => "sent",
            SendOutcome::Retry { .. } => "retried",
            SendOutcome::Failed { .. } => "failed",
        };
        match &outcome {
            SendOutcome::Sent => tracing::debug!(
                attempt = event.attempts + 1,
                "The seller's endpoint acknowledged an event."
            ),
            SendOutcome::Retry {
                error,
                next_attempt_at,
            } => {
                tracing::warn!(attempt = event.attempts + 1, error = %error, retry_in_ms = next_attempt_at - now, "The seller's endpoint did not take an event; it will be sent again.")
            }
            SendOutcome::Failed { error } => {
                tracing::error!(attempt = event.attempts + 1, error = %error, "The seller's endpoint did not take an event for three days; it is marked failed (`starsgate events replay` sends it again).")
            }
        }
        let label = self
            .stores
            .get(&event.bot)
            .map(|s| s.metrics_label().to_owned())
            .unwrap_or_else(|| "other".into());
        metrics::counter!("starsgate_events_total", "bot" => label, "result" => result)
            .increment(1);
        if let Err(e) = self.ledger.settle_seller_event(&event, outcome).await {
            tracing::warn!(error = %e, "Could not record an event's send; its claim runs out and it is sent again.");
        }
        self.with_busy(|b| {
            b.events.remove(&event.seq);
            if let Some(n) = b.per_url.get_mut(&event.url) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    b.per_url.remove(&event.url);
                }
            }
        });
    }

    /// POSTs the event, signed; `Err` says why it was not acknowledged.
    async fn attempt(&self, event: &SellerEvent) -> Result<(), String> {
        let secret = (self.secrets)(&event.secret_env).ok_or_else(|| {
            format!(
                "the signing secret ${} is not set in the gateway's environment",
                event.secret_env
            )
        })?;
        let t = self.clock.now_ms().div_euclid(1000);
        let signature = signature::header(&secret, t, event.body.as_bytes());
        let answer = self
            .http
            .post(&event.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Starsgate-Event-Id", &event.id)
            .header("Starsgate-Signature", signature)
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered HTTP {}", status.as_u16()))
        }
    }

    async fn measure_oldest(&self) {
        if let Ok(oldest) = self.ledger.oldest_pending_seller_event().await {
            let age = oldest.map_or(0.0, |at| (self.clock.now_ms() - at).max(0) as f64 / 1000.0);
            metrics::gauge!("starsgate_events_oldest_pending_seconds").set(age);
        }
    }
}

/// A network error as a short sentence (without the URL, which the event row already has).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", SEND_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "the connection was refused or failed".into()
    } else {
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "the endpoint");
        }
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }
}
