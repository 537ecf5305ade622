//! One bot's life in a gateway: waiting for its lease, then resuming, taking updates (polling or
//! webhook), processing, delivering and reconciling until shutdown, retirement (its file was
//! removed) or the loss of the lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::INGEST_BUFFER;
use super::watch::Watch;
use crate::holder::Holder;
use crate::ingest::{self, webhook};
use crate::outbox;
use crate::shop::Store;

#[derive(Clone)]
pub(super) struct Lease {
    pub holder: Holder,
    pub duration: Duration,
}

/// How updates reach a bot.
pub(super) enum Intake {
    Polling {
        timeout: Duration,
    },
    Webhook {
        url: url::Url,
        secret: String,
        max_connections: u8,
        inbox: Arc<crate::handoff::Handoff<crate::ledger::StoredUpdate>>,
    },
}

/// One bot's work in this process: while this gateway holds the bot's lease it resumes
/// unfinished work, polls, processes, delivers and reconciles; if the lease is lost (another
/// gateway took over after this one stalled) it stops and waits to lead again.
pub(super) struct BotRuntime {
    pub store: Arc<Store>,
    pub intake: Intake,
    pub reconcile_every: Option<Duration>,
    pub lease: Lease,
    /// Renews the lease and wakes the bot for work only the ledger knows of, for every bot of
    /// the gateway at once.
    pub watch: Arc<Watch>,
}

impl BotRuntime {
    /// Runs until `shutdown`, or until `retire` (the bot's file was removed): then intake stops,
    /// stored updates and pending deliveries are finished, and the lease is given up.
    pub async fn run(self, shutdown: CancellationToken, retire: CancellationToken) {
        let bot = self.store.id.to_string();
        let lease_ms = self.lease.duration.as_millis() as i64;
        let retry = self.lease.duration / 3;
        self.take_over_from_a_dead_self(&bot, lease_ms).await;
        while !shutdown.is_cancelled() && !retire.is_cancelled() {
            match self
                .store
                .ledger()
                .lease_bot(&self.store.id, &self.lease.holder, lease_ms)
                .await
            {
                Ok(true) => self.lead(&shutdown, &retire).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(bot, error = %e, "Cannot take the bot's lease; retrying."),
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = retire.cancelled() => {}
                _ = tokio::time::sleep(retry) => {}
            }
        }
        if let Err(e) = self
            .store
            .ledger()
            .release_bot(&self.store.id, &self.lease.holder)
            .await
        {
            tracing::warn!(bot, error = %e, "Cannot release the bot's lease; it will expire.");
        }
    }

    /// A gateway killed a moment ago left its lease behind. If that holder was this gateway
    /// (same host and config directory) and its process is gone, take the bot over now instead of
    /// waiting for the lease to expire, so a restart after a crash resumes at once.
    async fn take_over_from_a_dead_self(&self, bot: &str, lease_ms: i64) {
        let Ok(Some(previous)) = self.store.ledger().bot_holder(&self.store.id).await else {
            return;
        };
        if !previous.is_dead_run_of(&self.lease.holder) {
            return;
        }
        if let Ok(true) = self
            .store
            .ledger()
            .take_over_bot(&self.store.id, &previous, &self.lease.holder, lease_ms)
            .await
        {
            tracing::info!(
                bot,
                previous = %previous,
                "Took the bot over from a crashed earlier run of this gateway."
            );
        }
    }

    /// Runs the bot until shutdown or until the lease is lost.
    async fn lead(&self, shutdown: &CancellationToken, retire: &CancellationToken) {
        let bot = self.store.id.to_string();
        tracing::info!(bot, "This gateway now runs the bot.");
        let stop = shutdown.child_token();
        // Intake stops on shutdown, on a lost lease, or when the bot is retired.
        let intake = stop.child_token();
        let retired = {
            let (retire, intake) = (retire.clone(), intake.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = retire.cancelled() => intake.cancel(),
                    _ = intake.cancelled() => {}
                }
            })
        };
        let inbox = match &self.intake {
            Intake::Webhook { inbox, .. } => Some(inbox.clone()),
            Intake::Polling { .. } => None,
        };
        let leading = self.watch.lead(self.store.clone(), inbox, stop.clone());
        ingest::recover(&self.store).await;
        let outbox = tokio::spawn(outbox::run(self.store.clone(), stop.clone()));
        let lapsed = tokio::spawn(crate::shop::sweep_lapsed(self.store.clone(), stop.clone()));
        let menus = tokio::spawn(crate::shop::menus::keep_set(
            self.store.clone(),
            stop.clone(),
        ));
        let reconcile = self.reconcile_every.map(|every| {
            tokio::spawn(crate::reconcile::every(
                self.store.clone(),
                every,
                stop.clone(),
            ))
        });
        match &self.intake {
            Intake::Polling { timeout } => {
                let (tx, rx) = mpsc::channel(INGEST_BUFFER);
                let processor = tokio::spawn(ingest::process(self.store.clone(), rx));
                ingest::poll(self.store.clone(), *timeout, tx, intake.clone()).await;
                let _ = processor.await;
            }
            Intake::Webhook {
                url,
                secret,
                max_connections,
                inbox,
            } => {
                if webhook::register(&self.store, url.clone(), secret, *max_connections, &intake)
                    .await
                {
                    self.store.mark_ready();
                    ingest::inbox_loop(self.store.clone(), inbox.clone(), intake.clone()).await;
                }
            }
        }
        if retire.is_cancelled() && !stop.is_cancelled() {
            drain_outbox(&self.store, &stop).await;
        }
        stop.cancel();
        let _ = retired.await;
        let _ = outbox.await;
        let _ = lapsed.await;
        let _ = menus.await;
        if let Some(r) = reconcile {
            let _ = r.await;
        }
        drop(leading);
        if !shutdown.is_cancelled() {
            tracing::warn!(
                bot,
                "This gateway lost the bot's lease; another gateway runs it now."
            );
        }
    }
}

/// A retired bot's last deliveries: wait (at most a minute) until nothing is due, so retiring a
/// bot loses nothing a buyer paid for. What is still undelivered after that stays in the ledger.
async fn drain_outbox(store: &Store, stop: &CancellationToken) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline && !stop.is_cancelled() {
        // Pending, not only due: a delivery waiting out a 429 must still go out.
        match store.ledger().next_delivery_at(&store.id).await {
            Ok(None) => return,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
