//! Staging a seller event inside the transaction of the change it reports (a transactional
//! outbox): the payment and its event commit together or not at all, so a crash can never leave
//! a payment without its event or an event without its payment.
//!
//! The destination is read from `event_routes` in the same transaction and copied into the event,
//! so an event keeps the URL it was written for even if `[events]` changes afterwards. A bot
//! without routes pays one indexed read per reported change and writes nothing.

use std::collections::HashMap;

use crate::ledger::conn::{Conn, query};
use serde_json::json;

use crate::domain::SellerEventType;

use super::super::LedgerError;
use super::super::payments::fetch_payment;
use super::super::report::{ExportRecord, rfc3339};
use super::super::subscriptions::{COLUMNS as SUBSCRIPTION_COLUMNS, from_row as subscription};

/// A change that a seller event may report.
#[derive(Debug, Clone, Copy)]
pub(in crate::ledger) struct Fact<'a> {
    pub at: i64,
    pub bot: &'a str,
    pub event_type: SellerEventType,
    pub about: About<'a>,
}

/// What the event is about: its `data` and the key its events are ordered by.
#[derive(Debug, Clone, Copy)]
pub(in crate::ledger) enum About<'a> {
    Payment {
        charge_id: &'a str,
    },
    /// A sale that is not a row of `payments` (a paid media purchase), with its `data` as its
    /// writer built it inside the same transaction.
    Sale {
        charge_id: &'a str,
        data: &'a serde_json::Value,
    },
    /// A membership, with the charge that last paid it.
    Membership {
        user_id: i64,
        product: &'a str,
        charge_id: &'a str,
    },
}

impl About<'_> {
    /// Events with the same subject are sent one at a time, in the order they were written.
    fn subject(&self) -> String {
        match self {
            About::Payment { charge_id } | About::Sale { charge_id, .. } => {
                format!("charge:{charge_id}")
            }
            About::Membership {
                user_id, product, ..
            } => format!("membership:{user_id}:{product}"),
        }
    }
}

/// Writes one seller event per fact whose bot routes its type somewhere; facts of unrouted bots
/// or types are skipped.
pub(in crate::ledger) async fn stage(
    conn: &mut Conn,
    facts: &[Fact<'_>],
) -> Result<(), LedgerError> {
    if facts.is_empty() {
        return Ok(());
    }
    // One read for the whole group: its facts are nearly always of one bot.
    let mut bots: Vec<&str> = facts.iter().map(|f| f.bot).collect();
    bots.sort_unstable();
    bots.dedup();
    let sql = format!(
        "SELECT bot, event_type, url, secret_env FROM event_routes WHERE bot IN ({})",
        (1..=bots.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut select = query(&sql);
    for bot in &bots {
        select = select.bind(*bot);
    }
    let mut routes = HashMap::new();
    for r in select.fetch_all(&mut *conn).await? {
        let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
        routes.insert(
            key,
            (r.try_get::<String, _>(2)?, r.try_get::<String, _>(3)?),
        );
    }
    if routes.is_empty() {
        return Ok(());
    }
    for fact in facts {
        let key = (fact.bot.to_owned(), fact.event_type.as_str().to_owned());
        let Some((url, secret_env)) = routes.get(&key) else {
            continue;
        };
        // Due when written, unless an earlier event of its subject waits for a retry: it is sent
        // after that one, so it is not due before it (the sender never walks over it meanwhile).
        let id = new_event_id();
        let data = data(conn, fact).await?;
        let body = json!({
            "id": id,
            "type": fact.event_type.as_str(),
            "created_at": rfc3339(fact.at),
            "bot": fact.bot,
            "data": data,
        });
        query(
            "INSERT INTO seller_events (id, bot, event_type, subject, body, url, secret_env, \
             created_at, queued_at, status, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'pending', \
             COALESCE((SELECT MAX(next_attempt_at) FROM seller_events \
                 WHERE bot = $2 AND subject = $4 AND status = 'pending' AND next_attempt_at > $8), $8))",
        )
        .bind(&id)
        .bind(fact.bot)
        .bind(fact.event_type.as_str())
        .bind(fact.about.subject())
        .bind(body.to_string())
        .bind(url)
        .bind(secret_env)
        .bind(fact.at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The event's `data`: the payment as `ledger export` writes it, plus the membership for
/// subscription events, as they stand inside this transaction.
async fn data(conn: &mut Conn, fact: &Fact<'_>) -> Result<serde_json::Value, LedgerError> {
    let charge_id = match fact.about {
        About::Payment { charge_id } | About::Membership { charge_id, .. } => charge_id,
        About::Sale { data, .. } => return Ok(data.clone()),
    };
    let payment = fetch_payment(conn, fact.bot, charge_id)
        .await?
        .map(ExportRecord::from);
    // A record of strings and integers always serializes.
    let mut data = serde_json::to_value(&payment).unwrap_or_default();
    if let About::Membership {
        user_id, product, ..
    } = fact.about
    {
        let row = query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions \
             WHERE bot = $1 AND user_id = $2 AND product = $3"
        ))
        .bind(fact.bot)
        .bind(user_id)
        .bind(product)
        .fetch_optional(&mut *conn)
        .await?;
        let membership = row.as_ref().map(subscription).transpose()?.map(|m| {
            json!({
                "user_id": m.user_id,
                "product": m.product,
                "state": m.state,
                "expires_at": rfc3339(m.expires_at),
                "first_charge_id": m.first_charge_id,
                "last_charge_id": m.last_charge_id,
            })
        });
        data = match data {
            serde_json::Value::Object(mut map) => {
                map.insert("membership".into(), membership.unwrap_or_default());
                serde_json::Value::Object(map)
            }
            _ => json!({ "membership": membership }),
        };
    }
    Ok(data)
}

/// `evt_` and 24 random hex digits: unique without asking the database, and fixed once stored.
fn new_event_id() -> String {
    format!("evt_{}", hex::encode(rand::random::<[u8; 12]>()))
}
