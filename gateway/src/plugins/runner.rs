//! Runs plugin calls off the async runtime: a semaphore bounds how many run at once (so a flood of
//! checkouts queues instead of exhausting threads), and a deadline bounds how long the caller
//! waits. The deadline cannot stop a running thread; the plugin's own budget (fuel, epochs) does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{
    CheckoutInput, Decision, Delivery, DeliveryInput, Plugin, PluginError, validate_delivery,
    validate_reject_message,
};

#[derive(Debug, Clone, Copy)]
pub struct RunnerLimits {
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
            permits: Arc::new(Semaphore::new(limits.concurrency)),
            limits,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        deadline: Duration,
        f: impl FnOnce() -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        let millis = deadline.as_millis() as u64;
        let call = async {
            let _permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| PluginError::Unavailable("the plugin pool is closed".into()))?;
            match tokio::task::spawn_blocking(f).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(PluginError::Trap("the plugin host panicked".into())),
                Err(_) => Err(PluginError::Unavailable(
                    "the plugin call was cancelled".into(),
                )),
            }
        };
        tokio::time::timeout(deadline, call)
            .await
            .unwrap_or(Err(PluginError::Timeout(millis)))
    }

    /// Asks the plugin for a decision; an invalid reject message is a plugin error.
    pub async fn pre_checkout(
        &self,
        plugin: Arc<dyn Plugin>,
        input: CheckoutInput,
    ) -> Result<Decision, PluginError> {
        let decision = self
            .run(self.limits.pre_checkout_deadline, move || {
                plugin.pre_checkout(&input)
            })
            .await?;
        if let Decision::Reject(msg) = &decision {
            validate_reject_message(msg).map_err(PluginError::InvalidOutput)?;
        }
        Ok(decision)
    }

    /// Asks the plugin for the delivery and validates it.
    pub async fn deliver(
        &self,
        plugin: Arc<dyn Plugin>,
        input: DeliveryInput,
    ) -> Result<Delivery, PluginError> {
        let delivery = self
            .run(self.limits.deliver_deadline, move || plugin.deliver(&input))
            .await?;
        validate_delivery(&delivery).map_err(PluginError::InvalidOutput)?;
        Ok(delivery)
    }

    pub async fn refunded(
        &self,
        plugin: Arc<dyn Plugin>,
        input: DeliveryInput,
    ) -> Result<(), PluginError> {
        self.run(self.limits.deliver_deadline, move || {
            plugin.refunded(&input)
        })
        .await
    }
}
