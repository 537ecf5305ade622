//! Runs plugin calls: a semaphore bounds how many run at once (so a flood of checkouts queues
//! instead of exhausting threads or the instance pool), and a deadline bounds how long the caller
//! waits. The deadline cannot stop a running thread; the plugin's own budget (fuel and the epoch
//! deadline) does.
//!
//! A call is tried first on the calling (async runtime) thread under a cut budget
//! (`wasm::limits::QUICK_FUEL`, about a millisecond), and only a call that needs more runs again,
//! whole, on the blocking pool, where a plugin that computes for its full budget cannot hold up
//! the runtime. A bundled plugin's hook takes a hundredth of that slice, and handing every call
//! to a pool thread and back (two thread wake-ups, each an interrupt to the other core) cost
//! more of the gateway's CPU than the call itself. Running a call twice is safe: a plugin is a
//! function of its input (no clock, randomness or I/O).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{
    Breaker, Call, CallContext, Decision, Delivery, OrderView, PaymentView, Plugin, PluginError,
    Quote, QuoteRequest, validate_delivery, validate_quote, validate_reject_message,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerLimits {
    /// Plugin calls running at once, process-wide (below the instance pool's size).
    pub concurrency: usize,
    pub pre_checkout_deadline: Duration,
    pub deliver_deadline: Duration,
}

impl Default for RunnerLimits {
    fn default() -> Self {
        Self {
            concurrency: 64,
            pre_checkout_deadline: Duration::from_millis(1500),
            deliver_deadline: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Runner {
    permits: Arc<Semaphore>,
    limits: RunnerLimits,
}

impl Runner {
    pub fn new(limits: RunnerLimits) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
        }
    }

    /// Calls `hook` of `plugin`: first its quick form on this thread, then, if that stopped at
    /// its cut budget, the whole call on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        deadline: Duration,
        plugin: Arc<dyn Plugin>,
        hook: impl Fn(&dyn Plugin) -> Call<T> + Send + 'static,
    ) -> Call<T> {
        let millis = deadline.as_millis() as u64;
        let call = async {
            let Ok(_permit) = self.permits.clone().acquire_owned().await else {
                return Call::free(Err(PluginError::Unavailable(
                    "the plugin pool is closed".into(),
                )));
            };
            if let Some(quick) = plugin.quick() {
                let call = hook(quick);
                if !call.unfinished {
                    return call;
                }
            }
            match tokio::task::spawn_blocking(move || hook(&*plugin)).await {
                Ok(call) => call,
                Err(e) if e.is_panic() => {
                    Call::free(Err(PluginError::Trap("the plugin host panicked".into())))
                }
                Err(_) => Call::free(Err(PluginError::Unavailable(
                    "the plugin call was cancelled".into(),
                ))),
            }
        };
        tokio::time::timeout(deadline, call)
            .await
            .unwrap_or_else(|_| Call::free(Err(PluginError::Timeout(millis))))
    }

    /// Asks for a decision, unless the product's breaker is open. An invalid reject message is a
    /// plugin error. Failures are counted by the breaker.
    pub async fn pre_checkout(
        &self,
        plugin: Arc<dyn Plugin>,
        breaker: &Breaker,
        ctx: CallContext,
        order: OrderView,
    ) -> Call<Decision> {
        if !breaker.allow(Instant::now()) {
            return Call::free(Err(PluginError::Unavailable(
                "paused by its circuit breaker after repeated failures".into(),
            )));
        }
        let mut call = self
            .run(self.limits.pre_checkout_deadline, plugin, move |p| {
                p.pre_checkout(&ctx, &order)
            })
            .await;
        if let Ok(Decision::Reject(msg)) = &call.result
            && let Err(e) = validate_reject_message(msg)
        {
            call.result = Err(PluginError::InvalidOutput(e));
        }
        breaker.record(call.result.is_ok(), Instant::now());
        call
    }

    /// Asks a plugin that prices orders for its quote, under the pre-checkout's deadline (the
    /// buyer is waiting for the invoice), and validates it. Failures count for the breaker.
    pub async fn quote(
        &self,
        plugin: Arc<dyn Plugin>,
        breaker: &Breaker,
        ctx: CallContext,
        order: OrderView,
        request: QuoteRequest,
    ) -> Call<Quote> {
        if !breaker.allow(Instant::now()) {
            return Call::free(Err(PluginError::Unavailable(
                "paused by its circuit breaker after repeated failures".into(),
            )));
        }
        let subscription = request.subscription;
        let mut call = self
            .run(self.limits.pre_checkout_deadline, plugin, move |p| {
                p.quote(&ctx, &order, &request)
            })
            .await;
        if let Ok(q) = &call.result
            && let Err(e) = validate_quote(q, subscription)
        {
            call.result = Err(PluginError::InvalidOutput(e));
        }
        breaker.record(call.result.is_ok(), Instant::now());
        call
    }

    /// Asks for the delivery and validates it.
    pub async fn deliver(
        &self,
        plugin: Arc<dyn Plugin>,
        breaker: &Breaker,
        ctx: CallContext,
        order: OrderView,
        payment: PaymentView,
    ) -> Call<Delivery> {
        let mut call = self
            .run(self.limits.deliver_deadline, plugin, move |p| {
                p.deliver(&ctx, &order, &payment)
            })
            .await;
        if let Ok(d) = &call.result
            && let Err(e) = validate_delivery(d)
        {
            call.result = Err(PluginError::InvalidOutput(e));
        }
        breaker.record(call.result.is_ok(), Instant::now());
        call
    }

    pub async fn refunded(
        &self,
        plugin: Arc<dyn Plugin>,
        ctx: CallContext,
        order: OrderView,
        payment: PaymentView,
    ) -> Call<()> {
        self.run(self.limits.deliver_deadline, plugin, move |p| {
            p.refunded(&ctx, &order, &payment)
        })
        .await
    }
}
