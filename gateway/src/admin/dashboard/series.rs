//! The overview's numbers for a period: Stars per day (paid, refunded, net), the counts, the
//! funnel and each bot's and product's share. Served as JSON (`GET /admin/series`,
//! `GET /admin/overview`) for the page's chart and for the seller's own tools.
//!
//! A payment counts on the day it was paid, and a refunded payment counts as refunded on that
//! same day: so a period's net is exactly `starsgate stats` over the payments made in it, and
//! over all time the two agree to the Star.

use std::collections::BTreeMap;

use serde::Serialize;

use super::filters::Period;
use crate::domain::BotId;
use crate::ledger::report::{sort_stats, summarize};
use crate::ledger::{
    Funnel, Ledger, LedgerError, PaymentQuery, PaymentStatus, ProductStats, Sold, SubscriptionState,
};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Stars of every payment made that day.
    pub paid_stars: i64,
    /// Of `paid_stars`, those refunded since.
    pub refunded_stars: i64,
    pub net_stars: i64,
    pub payments: i64,
    pub refunds: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub paid_orders: i64,
    pub refunds: i64,
    pub renewals: i64,
    /// Memberships active now (whatever the period).
    pub active_memberships: i64,
    pub paid_stars: i64,
    pub refunded_stars: i64,
    pub net_stars: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Share {
    pub name: String,
    pub net_stars: i64,
    /// Of the period's net Stars, rounded to a tenth.
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub bot: Option<BotId>,
    pub from: String,
    pub to: String,
    pub days: Vec<Day>,
    pub totals: Totals,
    pub funnel: Funnel,
    pub bots: Vec<Share>,
    pub products: Vec<Share>,
    /// `starsgate stats` for the payments of the period.
    pub stats: Vec<ProductStats>,
    /// Per promo code, for the payments of the period.
    pub promos: Vec<crate::ledger::PromoStats>,
}

/// The period's invoice payments and paid media sales (sendPaidMedia posts unlocked), so the
/// charts and totals agree with `stats`.
async fn paid_in(ledger: &Ledger, period: &Period) -> Result<Vec<Sold>, LedgerError> {
    let q = PaymentQuery {
        bot: period.bot.as_ref().map(BotId::to_string),
        from_ms: Some(period.start_ms()),
        until_ms: Some(period.until_ms()),
        ..Default::default()
    };
    let mut payments: Vec<Sold> = ledger
        .payments_matching(&q, None)
        .await?
        .iter()
        .map(Sold::from)
        .collect();
    payments.extend(
        ledger
            .paid_media_sales(period.bot.as_ref(), period.start_ms(), period.until_ms())
            .await?,
    );
    Ok(payments)
}

/// Stars per day of the period, every day present (zero when nothing was sold).
pub fn per_day(period: &Period, payments: &[Sold]) -> Vec<Day> {
    let mut days: BTreeMap<String, Day> = period
        .days()
        .map(|d| {
            let day = d.format("%Y-%m-%d").to_string();
            let empty = Day {
                day: day.clone(),
                paid_stars: 0,
                refunded_stars: 0,
                net_stars: 0,
                payments: 0,
                refunds: 0,
            };
            (day, empty)
        })
        .collect();
    for p in payments {
        let Some(at) = chrono::DateTime::from_timestamp_millis(p.paid_at) else {
            continue;
        };
        let Some(d) = days.get_mut(&at.format("%Y-%m-%d").to_string()) else {
            continue;
        };
        d.payments += 1;
        d.paid_stars += p.amount;
        if p.status == PaymentStatus::Refunded {
            d.refunds += 1;
            d.refunded_stars += p.amount;
        }
        d.net_stars = d.paid_stars - d.refunded_stars;
    }
    days.into_values().collect()
}

pub async fn series(ledger: &Ledger, period: &Period) -> Result<Vec<Day>, LedgerError> {
    Ok(per_day(period, &paid_in(ledger, period).await?))
}

fn shares(stats: &[ProductStats], name: impl Fn(&ProductStats) -> String) -> Vec<Share> {
    let total: i64 = stats.iter().map(|s| s.net_revenue).sum();
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    for s in stats {
        *by.entry(name(s)).or_default() += s.net_revenue;
    }
    let mut out: Vec<Share> = by
        .into_iter()
        .map(|(name, net_stars)| Share {
            name,
            net_stars,
            percent: if total > 0 {
                (net_stars as f64 * 1000.0 / total as f64).round() / 10.0
            } else {
                0.0
            },
        })
        .collect();
    out.sort_by(|a, b| b.net_stars.cmp(&a.net_stars).then(a.name.cmp(&b.name)));
    out
}

pub async fn overview(ledger: &Ledger, period: &Period) -> Result<Overview, LedgerError> {
    let payments = paid_in(ledger, period).await?;
    let days = per_day(period, &payments);
    let mut stats = summarize(&payments);
    sort_stats(&mut stats);
    let funnel = ledger
        .funnel(period.bot.as_ref(), period.start_ms(), period.until_ms())
        .await?;
    let active = ledger
        .memberships(period.bot.as_ref())
        .await?
        .iter()
        .filter(|m| m.state == SubscriptionState::Active)
        .count() as i64;
    let refunded_stars: i64 = days.iter().map(|d| d.refunded_stars).sum();
    let paid_stars: i64 = days.iter().map(|d| d.paid_stars).sum();
    let totals = Totals {
        paid_orders: stats.iter().map(|s| s.payments).sum(),
        refunds: stats.iter().map(|s| s.refunded).sum(),
        renewals: stats.iter().map(|s| s.renewals).sum(),
        active_memberships: active,
        paid_stars,
        refunded_stars,
        net_stars: stats.iter().map(|s| s.net_revenue).sum(),
    };
    Ok(Overview {
        bot: period.bot.clone(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        days,
        totals,
        funnel,
        bots: shares(&stats, |s| s.bot.clone()),
        products: shares(&stats, |s| format!("{} / {}", s.bot, s.product)),
        stats,
        promos: crate::ledger::summarize_promos(&payments),
    })
}
