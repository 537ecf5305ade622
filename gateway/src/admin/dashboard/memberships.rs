//! The memberships page: per product, how many memberships are active, cancelled (renewal off,
//! still running), failed (a renewal did not go through) and expired; the churn of the last
//! twelve months; and a buyer lookup (their memberships and payments in one bot).
//!
//! Churn of a month = memberships that ended in it (became `expired`) / memberships running
//! when it began (first paid before it, not ended before it).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::data::{Query, today};
use super::error::{PageError, PageResult};
use super::filters::given;
use super::pages::{Chrome, PaymentRow};
use super::{Viewer, html};
use crate::admin::AdminState;
use crate::domain::BotId;
use crate::ledger::report::rfc3339;
use crate::ledger::{Membership, PaymentQuery, SubscriptionState};

/// Months of churn shown, this one included.
const MONTHS: u32 = 12;

#[derive(Default)]
pub struct ProductCounts {
    pub bot: String,
    pub product: String,
    pub active: i64,
    pub cancelled: i64,
    pub failed: i64,
    pub expired: i64,
}

pub struct ChurnMonth {
    pub month: String,
    pub running_at_start: i64,
    pub started: i64,
    pub ended: i64,
    /// `ended / running_at_start`, as a percentage with one decimal; "–" when nothing ran.
    pub churn: String,
}

pub struct MembershipRow {
    pub product: String,
    pub state: &'static str,
    pub expires_at: String,
}

pub struct Lookup {
    pub bot: String,
    pub user_id: i64,
    pub memberships: Vec<MembershipRow>,
    pub payments: Vec<PaymentRow>,
}

#[derive(Template)]
#[template(path = "dashboard/memberships.html")]
pub struct MembershipsPage {
    pub chrome: Chrome,
    pub bots: Vec<String>,
    pub products: Vec<ProductCounts>,
    pub months: Vec<ChurnMonth>,
    pub lookup: Option<Lookup>,
}

#[derive(Deserialize)]
pub struct LookupQuery {
    bot: Option<String>,
    user_id: Option<String>,
}

pub fn counts(all: &[Membership]) -> Vec<ProductCounts> {
    let mut by: BTreeMap<(String, String), ProductCounts> = BTreeMap::new();
    for m in all {
        let c = by
            .entry((m.bot.clone(), m.product.clone()))
            .or_insert_with(|| ProductCounts {
                bot: m.bot.clone(),
                product: m.product.clone(),
                ..Default::default()
            });
        match m.state {
            SubscriptionState::Active => c.active += 1,
            SubscriptionState::Cancelled => c.cancelled += 1,
            SubscriptionState::Failed => c.failed += 1,
            SubscriptionState::Expired => c.expired += 1,
        }
    }
    by.into_values().collect()
}

fn month_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// Churn for the `MONTHS` months up to the one holding `today`, oldest first.
pub fn churn(all: &[Membership], today: NaiveDate) -> Vec<ChurnMonth> {
    let this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let starts: Vec<NaiveDate> = (0..=MONTHS)
        .rev()
        .filter_map(|back| this.checked_sub_months(chrono::Months::new(back)))
        .collect();
    let ended_at = |m: &Membership| (m.state == SubscriptionState::Expired).then_some(m.updated_at);
    starts
        .windows(2)
        .map(|w| (w[1], w[1].checked_add_months(chrono::Months::new(1))))
        .map(|(start, next)| {
            let (from, until) = (month_start_ms(start), next.map_or(i64::MAX, month_start_ms));
            let running = all
                .iter()
                .filter(|m| m.started_at.is_some_and(|s| s < from))
                .filter(|m| ended_at(m).is_none_or(|e| e >= from))
                .count() as i64;
            let started = all
                .iter()
                .filter(|m| m.started_at.is_some_and(|s| s >= from && s < until))
                .count() as i64;
            let ended = all
                .iter()
                .filter(|m| ended_at(m).is_some_and(|e| e >= from && e < until))
                .count() as i64;
            ChurnMonth {
                month: start.format("%Y-%m").to_string(),
                running_at_start: running,
                started,
                ended,
                churn: if running > 0 {
                    format!("{:.1} %", ended as f64 * 100.0 / running as f64)
                } else {
                    "–".into()
                },
            }
        })
        .collect()
}

pub async fn page(
    viewer: Viewer,
    State(state): State<AdminState>,
    q: Result<Query<LookupQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(q) = q?;
    let all = state.ledger.memberships(None).await?;
    let lookup = match (given(&q.bot), given(&q.user_id)) {
        (Some(bot), Some(user)) => {
            let bot = BotId::parse(bot).map_err(|e| PageError::bad_filter(format!("bot: {e}")))?;
            let Ok(user_id) = user.parse::<i64>() else {
                let text = format!(
                    "user_id: {} is not a Telegram user id",
                    crate::brief::value(user)
                );
                return Err(PageError::bad_filter(text));
            };
            let subs = state.ledger.subscriptions(&bot, user_id).await?;
            let query = PaymentQuery {
                bot: Some(bot.to_string()),
                user_id: Some(user_id),
                ..Default::default()
            };
            let payments = state.ledger.payments_matching(&query, None).await?;
            Some(Lookup {
                bot: bot.to_string(),
                user_id,
                memberships: subs
                    .iter()
                    .map(|s| MembershipRow {
                        product: s.product.to_string(),
                        state: s.state.as_str(),
                        expires_at: rfc3339(s.expires_at),
                    })
                    .collect(),
                payments: payments.iter().map(PaymentRow::from).collect(),
            })
        }
        (None, None) => None,
        _ => {
            let why = "a buyer lookup needs both the bot and the user id";
            return Err(PageError::bad_filter(why));
        }
    };
    let mut bots: Vec<String> = state.snapshot().iter().map(|s| s.id.to_string()).collect();
    bots.sort();
    Ok(html(&MembershipsPage {
        chrome: Chrome::new(&viewer, "memberships"),
        bots,
        products: counts(&all),
        months: churn(&all, today()),
        lookup,
    }))
}
