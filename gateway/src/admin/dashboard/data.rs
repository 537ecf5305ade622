//! The dashboard's data, for its own pages and for the seller's tools (a session or the bearer
//! token): `GET /admin/series` and `GET /admin/overview` as JSON, `GET /payments.csv` in the
//! `ledger export` format, and the static assets compiled into the binary.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::filters::{self, PaymentsQuery, PeriodQuery};
use super::{Reader, series};
use crate::admin::AdminState;
use crate::admin::error::ApiError;
use crate::ledger::ExportRecord;

/// A query string read leniently: the dashboard's own parsing names the bad parameter.
pub use axum::extract::Query;

pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub async fn series(
    _: Reader,
    State(state): State<AdminState>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let period = filters::period(&query(q)?, today()).map_err(ApiError::bad_request)?;
    let days = series::series(&state.ledger, &period).await?;
    Ok(Json(json!({
        "ok": true,
        "bot": period.bot,
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "days": days,
    })))
}

/// A query string that did not parse is a 400 in the admin listener's one shape.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

pub async fn overview(
    _: Reader,
    State(state): State<AdminState>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let period = filters::period(&query(q)?, today()).map_err(ApiError::bad_request)?;
    let o = series::overview(&state.ledger, &period).await?;
    Ok(Json(json!({ "ok": true, "overview": o })))
}

/// Every payment the payments page's filters match (all pages), as `ledger export` writes CSV.
pub async fn payments_csv(
    _: Reader,
    State(state): State<AdminState>,
    q: Result<Query<PaymentsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (matching, _) = filters::payments(&query(q)?).map_err(ApiError::bad_request)?;
    let payments = state.ledger.payments_matching(&matching, None).await?;
    let records: Vec<ExportRecord> = payments.into_iter().map(ExportRecord::from).collect();
    let mut body = Vec::new();
    crate::ledger::report::write_csv(&records, &mut body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"payments.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The files the pages load, compiled in: the page's style and script and uPlot (MIT, see
/// `assets/uPlot.LICENSE`).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("../../../assets/dashboard.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../assets/dashboard.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("../../../assets/uPlot.min.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../assets/uPlot.iife.min.js"),
    ),
];

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::not_found("there is no such asset").into_response(),
    }
}
