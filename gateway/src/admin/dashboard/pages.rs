//! The dashboard's pages: overview, payments, review queue and stores (memberships live in
//! `memberships.rs`). Each handler reads the ledger or the running stores into plain rows and
//! renders an askama template from `gateway/templates/dashboard/`; bad filters get a 400 page
//! that says which parameter is wrong.

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::response::Response;

use super::data::{Query, today};
use super::error::{PageError, PageResult};
use super::filters::{self, PAGE_SIZE, PaymentsQuery, PeriodQuery, given};
use super::series::{Overview, overview as overview_of};
use super::{Viewer, html};
use crate::admin::AdminState;
use crate::ledger::report::rfc3339;
use crate::ledger::{EventKind, Page, Payment, PaymentQuery, PaymentStatus};

/// What every page's frame needs: the logout form's CSRF token and which tab is open.
pub struct Chrome {
    pub csrf: String,
    pub active: &'static str,
}

impl Chrome {
    pub fn new(viewer: &Viewer, active: &'static str) -> Self {
        Self {
            csrf: viewer.csrf.clone(),
            active,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
pub struct LoginPage<'a> {
    pub problem: Option<&'a str>,
}

fn bot_ids(state: &AdminState) -> Vec<String> {
    let mut ids: Vec<String> = state.snapshot().iter().map(|s| s.id.to_string()).collect();
    ids.sort();
    ids
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
pub struct OverviewPage {
    pub chrome: Chrome,
    pub bots: Vec<String>,
    pub o: Overview,
    /// Where the chart reads its data.
    pub series_url: String,
}

pub async fn overview(
    viewer: Viewer,
    State(state): State<AdminState>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q?;
    let period = filters::period(&q, today()).map_err(PageError::bad_filter)?;
    let o = overview_of(&state.ledger, &period).await?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(bot) = &period.bot {
        query.append_pair("bot", bot);
    }
    query
        .append_pair("from", &period.from.to_string())
        .append_pair("to", &period.to.to_string());
    Ok(html(&OverviewPage {
        chrome: Chrome::new(&viewer, "overview"),
        bots: bot_ids(&state),
        o,
        series_url: format!("/admin/series?{}", query.finish()),
    }))
}

/// A payment as the pages show it.
pub struct PaymentRow {
    pub bot: String,
    pub charge_id: String,
    pub user_id: i64,
    pub product: String,
    pub amount: i64,
    pub status: &'static str,
    pub paid_at: String,
    pub delivered_at: String,
    pub refunded_at: String,
}

impl From<&Payment> for PaymentRow {
    fn from(p: &Payment) -> Self {
        Self {
            bot: p.bot.to_string(),
            charge_id: p.charge_id.to_string(),
            user_id: p.user_id,
            product: p
                .product
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            amount: p.amount,
            status: p.status.as_str(),
            paid_at: rfc3339(p.paid_at),
            delivered_at: p.delivered_at.map(rfc3339).unwrap_or_default(),
            refunded_at: p.refunded_at.map(rfc3339).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/payments.html")]
pub struct PaymentsPage {
    pub chrome: Chrome,
    pub bots: Vec<String>,
    pub statuses: Vec<&'static str>,
    /// The filters as given, to show them again in the form.
    pub bot: String,
    pub product: String,
    pub status: String,
    pub user_id: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<PaymentRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub csv_url: String,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
}

pub async fn payments(
    viewer: Viewer,
    State(state): State<AdminState>,
    q: Result<Query<PaymentsQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q?;
    let (query, page) = filters::payments(&q).map_err(PageError::bad_filter)?;
    let total = state.ledger.count_payments_matching(&query).await?;
    let window = Page {
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let rows = state
        .ledger
        .payments_matching(&query, Some(window))
        .await?
        .iter()
        .map(PaymentRow::from)
        .collect();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let field = |v: &Option<String>| given(v).unwrap_or_default().to_owned();
    let link = |path: &str, page: Option<i64>| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("bot", &q.bot),
            ("product", &q.product),
            ("status", &q.status),
            ("user_id", &q.user_id),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if let Some(v) = given(v) {
                s.append_pair(k, v);
            }
        }
        if let Some(p) = page {
            s.append_pair("page", &p.to_string());
        }
        format!("{path}?{}", s.finish())
    };
    Ok(html(&PaymentsPage {
        chrome: Chrome::new(&viewer, "payments"),
        bots: bot_ids(&state),
        statuses: PaymentStatus::ALL.iter().map(|s| s.as_str()).collect(),
        bot: field(&q.bot),
        product: field(&q.product),
        status: field(&q.status),
        user_id: field(&q.user_id),
        from: field(&q.from),
        to: field(&q.to),
        rows,
        total,
        page,
        pages,
        csv_url: link("/payments.csv", None),
        prev_url: (page > 1).then(|| link("/payments", Some(page - 1))),
        next_url: (page < pages).then(|| link("/payments", Some(page + 1))),
    }))
}

/// A payment waiting for the seller, with why and what would be delivered.
pub struct ReviewItem {
    pub payment: PaymentRow,
    pub reason: String,
    pub content: Option<String>,
    pub attempts: i64,
}

#[derive(Template)]
#[template(path = "dashboard/review.html")]
pub struct ReviewPage {
    pub chrome: Chrome,
    pub notice: Option<String>,
    pub items: Vec<ReviewItem>,
}

#[derive(serde::Deserialize)]
pub struct ReviewQuery {
    notice: Option<String>,
    charge: Option<String>,
}

/// The line shown after an action; only these fixed texts, never text from the URL.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "refunded" => "refunded: the Stars are back with the buyer.",
        "already_refunded" => "was already refunded; nothing more to do.",
        "sent" => "was sent again: the buyer has the stored delivery.",
        "already_delivered" => "was already delivered; nothing more to do.",
        _ => return None,
    })
}

async fn review_item(
    state: &AdminState,
    p: &Payment,
) -> Result<ReviewItem, crate::ledger::LedgerError> {
    let stored = state.ledger.stored_delivery(&p.bot, &p.charge_id).await?;
    let last_change = state
        .ledger
        .events(&p.bot, Some(&p.charge_id))
        .await?
        .into_iter()
        .rev()
        .find(|e| e.kind == EventKind::StatusChanged || e.kind == EventKind::PaymentFlagged)
        .and_then(|e| e.detail);
    let reason = p
        .review_reason
        .clone()
        .or_else(|| stored.as_ref().and_then(|d| d.last_error.clone()))
        .or(last_change)
        .unwrap_or_else(|| "(no reason recorded)".into());
    Ok(ReviewItem {
        payment: PaymentRow::from(p),
        reason,
        attempts: stored.as_ref().map_or(0, |d| d.attempts),
        content: stored.map(|d| d.content),
    })
}

pub async fn review(
    viewer: Viewer,
    State(state): State<AdminState>,
    q: Result<Query<ReviewQuery>, QueryRejection>,
) -> PageResult {
    let q = q.map(|Query(q)| q).unwrap_or(ReviewQuery {
        notice: None,
        charge: None,
    });
    let notice = match (q.notice.as_deref().and_then(notice_text), &q.charge) {
        (Some(text), Some(charge)) => Some(format!("Payment {charge} {text}")),
        _ => None,
    };
    let mut items = Vec::new();
    for status in [PaymentStatus::NeedsReview, PaymentStatus::DeliveryFailed] {
        let query = PaymentQuery {
            status: Some(status),
            ..Default::default()
        };
        for p in &state.ledger.payments_matching(&query, None).await? {
            items.push(review_item(&state, p).await?);
        }
    }
    Ok(html(&ReviewPage {
        chrome: Chrome::new(&viewer, "review"),
        notice,
        items,
    }))
}

pub struct ProductRow {
    pub id: String,
    pub title: String,
    pub price: u32,
    pub subscription: bool,
    pub on_sale: bool,
    pub plugin_sha256: String,
}

pub struct StoreRow {
    pub id: String,
    pub environment: &'static str,
    pub ready: bool,
    pub on_delivery_failure: &'static str,
    pub products: Vec<ProductRow>,
}

#[derive(Template)]
#[template(path = "dashboard/stores.html")]
pub struct StoresPage {
    pub chrome: Chrome,
    pub mode: &'static str,
    pub stores: Vec<StoreRow>,
    pub last_reload: Option<String>,
}

pub async fn stores(viewer: Viewer, State(state): State<AdminState>) -> Response {
    use crate::config::{Environment, Mode, OnDeliveryFailure};
    let mut stores: Vec<StoreRow> = state
        .snapshot()
        .iter()
        .map(|s| {
            let config = &s.current().config;
            StoreRow {
                id: s.id.to_string(),
                environment: match config.environment {
                    Environment::Production => "production",
                    Environment::Test => "test",
                },
                ready: s.is_ready(),
                on_delivery_failure: match config.on_delivery_failure {
                    OnDeliveryFailure::Review => "hold for review",
                    OnDeliveryFailure::Refund => "refund",
                },
                products: config
                    .products
                    .iter()
                    .map(|p| ProductRow {
                        id: p.id.to_string(),
                        title: p.title.as_str().to_owned(),
                        price: p.price.get(),
                        subscription: p.subscription,
                        on_sale: p.on_sale,
                        plugin_sha256: p
                            .plugin
                            .as_ref()
                            .map(|r| r.sha256.clone())
                            .unwrap_or_else(|| "(built in)".into()),
                    })
                    .collect(),
            }
        })
        .collect();
    stores.sort_by(|a, b| a.id.cmp(&b.id));
    let last_reload = state
        .last_reload
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|r| r.to_string());
    html(&StoresPage {
        chrome: Chrome::new(&viewer, "stores"),
        mode: match state.mode {
            Mode::Polling => "polling (getUpdates)",
            Mode::Webhook => "webhook",
        },
        stores,
        last_reload,
    })
}
