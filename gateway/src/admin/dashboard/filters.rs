//! The dashboard's query strings, read into domain values at the edge. Every parameter is
//! optional and an empty one (what an HTML form sends for a blank field) counts as absent;
//! anything that does not parse is one short message naming the parameter, shown as a 400, never
//! a 500.

use chrono::{Days, NaiveDate};
use serde::Deserialize;

use crate::domain::BotId;
use crate::ledger::{PaymentQuery, PaymentStatus};

/// The period shown when none is chosen: the last 30 days, today included.
pub const DEFAULT_DAYS: u64 = 30;
/// The longest period one page or series covers.
pub const MAX_DAYS: i64 = 3660;
/// Payments on one page.
pub const PAGE_SIZE: i64 = 50;

/// `?bot=&from=&to=` as sent.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    pub bot: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A bot (or all) and whole UTC days `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub bot: Option<BotId>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn start_ms(&self) -> i64 {
        day_start_ms(self.from)
    }

    /// The end of the period, exclusive: the start of the day after `to`.
    pub fn until_ms(&self) -> i64 {
        day_start_ms(self.to.checked_add_days(Days::new(1)).unwrap_or(self.to))
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }
}

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// An absent or blank parameter is `None`.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn date(name: &str, value: &Option<String>) -> Result<Option<NaiveDate>, String> {
    given(value)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                format!(
                    "{name}: {} is not a date like 2026-01-31",
                    crate::brief::value(v)
                )
            })
        })
        .transpose()
}

/// The period of `q`; `today` (UTC) ends the default period.
pub fn period(q: &PeriodQuery, today: NaiveDate) -> Result<Period, String> {
    let to = date("to", &q.to)?.unwrap_or(today);
    let from = match date("from", &q.from)? {
        Some(d) => d,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to),
    };
    if from > to {
        return Err(format!("from ({from}) is after to ({to})"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(format!("the period is longer than {MAX_DAYS} days"));
    }
    let bot = given(&q.bot)
        .map(|b| BotId::parse(b).map_err(|e| format!("bot: {e}")))
        .transpose()?;
    Ok(Period { bot, from, to })
}

/// `?bot=&product=&status=&user_id=&from=&to=&page=` as sent (the payments page).
#[derive(Debug, Default, Deserialize)]
pub struct PaymentsQuery {
    pub bot: Option<String>,
    pub product: Option<String>,
    pub status: Option<String>,
    pub user_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<String>,
}

/// The payments filter of `q` and the page asked for (from 1). Without dates it covers all time.
pub fn payments(q: &PaymentsQuery) -> Result<(PaymentQuery, i64), String> {
    let status = given(&q.status)
        .map(|s| {
            PaymentStatus::parse(s).ok_or_else(|| {
                let all: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "status: {} is not one of {}",
                    crate::brief::value(s),
                    all.join(", ")
                )
            })
        })
        .transpose()?;
    let user_id = given(&q.user_id)
        .map(|u| {
            u.parse::<i64>().map_err(|_| {
                format!(
                    "user_id: {} is not a Telegram user id",
                    crate::brief::value(u)
                )
            })
        })
        .transpose()?;
    let from = date("from", &q.from)?;
    let to = date("to", &q.to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(format!("from ({f}) is after to ({t})"));
    }
    let page = given(&q.page)
        .map(|p| match p.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
            _ => Err(format!(
                "page: {} is not a page number",
                crate::brief::value(p)
            )),
        })
        .transpose()?
        .unwrap_or(1);
    let query = PaymentQuery {
        bot: given(&q.bot).map(str::to_owned),
        product: given(&q.product).map(str::to_owned),
        status,
        user_id,
        from_ms: from.map(day_start_ms),
        until_ms: to
            .and_then(|t| t.checked_add_days(Days::new(1)))
            .map(day_start_ms),
    };
    Ok((query, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_default_period_is_the_last_thirty_days() {
        let p = period(&PeriodQuery::default(), day("2026-03-31")).unwrap();
        assert_eq!((p.from, p.to), (day("2026-03-02"), day("2026-03-31")));
        assert_eq!(p.days().count(), 30);
        assert_eq!(p.until_ms() - p.start_ms(), 30 * 86_400_000);
    }

    #[test]
    fn bad_dates_and_filters_are_named_in_the_message() {
        let q = PeriodQuery {
            from: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(
            period(&q, day("2026-03-31"))
                .unwrap_err()
                .starts_with("from:")
        );
        let q = PaymentsQuery {
            status: Some("shipped".into()),
            ..Default::default()
        };
        assert!(payments(&q).unwrap_err().contains("delivery_failed"));
        let q = PaymentsQuery {
            page: Some("0".into()),
            ..Default::default()
        };
        assert!(payments(&q).unwrap_err().starts_with("page:"));
    }

    #[test]
    fn blank_fields_mean_any() {
        let q = PaymentsQuery {
            bot: Some(String::new()),
            status: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(payments(&q).unwrap(), (PaymentQuery::default(), 1));
    }
}
