//! Logging: tracing to stderr, `RUST_LOG`-style filtering via `STARSGATE_LOG` (default `info`).
//!
//! Two formats: `text` (human lines, coloured only when stderr is a terminal and `NO_COLOR` is
//! unset) and `json` (one object per line: `timestamp`, `level`, `message`, the event's fields and
//! the fields of every span it happened in, such as `bot`, `update_id` and `charge_id`), chosen by
//! `STARSGATE_LOG_FORMAT` or `[log] format` in `gateway.toml` (the variable wins).

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable choosing the log format.
pub const FORMAT_ENV: &str = "STARSGATE_LOG_FORMAT";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for Loki, ELK and journald.
    Json,
}

impl LogFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// `STARSGATE_LOG_FORMAT` if set, else `configured`. A value that is neither `text` nor
    /// `json` is an error naming the variable.
    pub fn from_env_or(configured: LogFormat) -> Result<Self, String> {
        match std::env::var(FORMAT_ENV) {
            Ok(raw) if !raw.trim().is_empty() => Self::parse(&raw)
                .ok_or_else(|| format!("{FORMAT_ENV}: must be \"text\" or \"json\", not {raw:?}")),
            _ => Ok(configured),
        }
    }
}

/// Logging with the format from `STARSGATE_LOG_FORMAT` (text when unset or invalid).
pub fn init(default: &str) {
    init_with(
        default,
        LogFormat::from_env_or(LogFormat::Text).unwrap_or_default(),
    );
}

/// Logging in `format`; does nothing if a subscriber is already installed.
pub fn init_with(default: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("STARSGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(JsonLine)
            .try_init(),
    };
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (no-color.org).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One JSON object per event. Span fields come first, outermost span first, so an inner span's
/// field wins over an outer one of the same name; the event's own fields win over both.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields) {
                    line.extend(fields);
                }
            }
            if !names.is_empty() {
                line.insert("span".into(), names.join(":").into());
            }
        }
        let mut visitor = Fields(&mut line);
        event.record(&mut visitor);
        line.insert("target".into(), meta.target().into());
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into the JSON line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn log_formats_have_one_spelling_each() {
        assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("JSON"), None);
    }
}
