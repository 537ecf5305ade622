//! The dashboard's one refusal type: a page saying why, with its status. Handlers return
//! `Result<Response, PageError>` and use `?`; each failure says once, here, what the seller sees
//! (the HTML twin of the admin API's `ApiError`).

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::message_page;
use crate::admin::error::ApiError;
use crate::ledger::LedgerError;

/// A page that cannot be shown or an action that was refused.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: &'static str,
    message: String,
}

/// What a dashboard handler answers.
pub type PageResult = Result<Response, PageError>;

impl PageError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    /// 400: a filter the seller typed does not fit.
    pub fn bad_filter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad filter", message)
    }

    /// 403: a form without this session's security token (see `Viewer::csrf_ok`).
    pub fn csrf_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form's security token is missing or out of date: reload the page and try again.",
        )
    }

    /// A refusal of the admin API's kind (a refund, a delivery sent again), under `title`.
    pub fn refused(title: &'static str, e: impl Into<ApiError>) -> Self {
        let e = e.into();
        Self::new(e.status(), title, e.message())
    }
}

impl From<QueryRejection> for PageError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_filter(e.body_text())
    }
}

impl From<FormRejection> for PageError {
    fn from(e: FormRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad form", e.body_text())
    }
}

impl From<LedgerError> for PageError {
    fn from(e: LedgerError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The ledger does not answer",
            e.to_string(),
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        message_page(self.status, self.title, &self.message)
    }
}
