//! Prometheus metrics through the `metrics` facade. One recorder per process. Labels stay
//! bounded: a `bot` label names the bot only while the deployment has at most
//! `admin.per_bot_metrics_max` bots (else every bot reports as `all`), and other labels take a
//! fixed set of values.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process; later calls do nothing).
pub fn install() {
    HANDLE.get_or_init(|| {
        let latency = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let fuel = [1e3, 1e4, 1e5, 1e6, 5e6, 1e7, 2e7, 5e7];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("starsgate_precheckout_seconds".into()), &latency)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("starsgate_plugin_fuel".into()), &fuel))
            .and_then(|b| b.install_recorder())
            .map_err(|e| tracing::warn!(error = %e, "Metrics are off: the recorder could not be installed."))
            .ok()
    });
}

pub fn render() -> String {
    match HANDLE.get() {
        Some(Some(handle)) => handle.render(),
        _ => String::new(),
    }
}

/// The `bot` label for a bot, given how many bots the deployment has.
pub fn bot_label(bot: &str, bots: usize, per_bot_max: usize) -> String {
    if bots <= per_bot_max {
        bot.to_owned()
    } else {
        "all".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::bot_label;

    #[test]
    fn bot_labels_collapse_when_there_are_many_bots() {
        assert_eq!(bot_label("guides", 2, 50), "guides");
        assert_eq!(bot_label("guides", 51, 50), "all");
    }
}
