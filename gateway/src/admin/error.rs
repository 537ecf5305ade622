//! The admin listener's one refusal type. Every handler returns `Result<_, ApiError>` and uses
//! `?`: each domain error says once, here, which status it is, so two handlers can never answer
//! the same failure differently (zero2prod's `ResponseError`). The body is always
//! `{"ok": false, "error": <one short line>}`; the line may repeat the caller's input, so it is
//! cut to size by `crate::brief`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ledger::LedgerError;
use crate::outbox::AgainError;
use crate::shop::paid_media::PostError;
use crate::shop::{RefundError, RenewalError};

/// A refused admin call: a status and one line saying why.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl AsRef<str>) -> Self {
        Self {
            status,
            message: crate::brief::line(message.as_ref()),
        }
    }

    /// 400: the caller's input does not fit.
    pub fn bad_request(message: impl AsRef<str>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the bot, charge or product named does not exist.
    pub fn not_found(message: impl AsRef<str>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "ok": false, "error": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// The ledger not answering is the gateway's trouble, not the caller's: 503, try again.
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> Self {
        let status = match e {
            RefundError::UnknownCharge(_) => StatusCode::NOT_FOUND,
            RefundError::Telegram(_) => StatusCode::BAD_GATEWAY,
            RefundError::BalanceTooLow { .. } => StatusCode::CONFLICT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

impl From<AgainError> for ApiError {
    fn from(e: AgainError) -> Self {
        let status = match e {
            AgainError::UnknownCharge(_) => StatusCode::NOT_FOUND,
            AgainError::Refunded(_) | AgainError::InProgress(_) | AgainError::NoContent(_) => {
                StatusCode::CONFLICT
            }
            AgainError::Telegram(_) => StatusCode::BAD_GATEWAY,
            AgainError::Ledger(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

impl From<RenewalError> for ApiError {
    fn from(e: RenewalError) -> Self {
        let status = match e {
            RenewalError::NoSuchMembership { .. } | RenewalError::Expired => StatusCode::NOT_FOUND,
            RenewalError::Telegram(_) => StatusCode::BAD_GATEWAY,
            RenewalError::Ledger(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

/// Telegram's refusal keeps its meaning: 400 for a request it refused, 403 for a chat the bot
/// may not post in, 502 when it could not be reached.
impl From<PostError> for ApiError {
    fn from(e: PostError) -> Self {
        let status = match e {
            PostError::Refused(_) => StatusCode::BAD_REQUEST,
            PostError::Forbidden(_) => StatusCode::FORBIDDEN,
            PostError::Unavailable(_) => StatusCode::BAD_GATEWAY,
            PostError::Ledger(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_one_short_json_line_with_its_status() {
        let long = "x".repeat(10_000);
        let e = ApiError::bad_request(format!("bot: {long}\nsecond line"));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(!e.message().contains('\n'), "{}", e.message());
        assert!(e.message().len() < 1_000, "{}", e.message().len());
        assert_eq!(e.into_response().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_ledger_that_does_not_answer_is_a_503() {
        let e = ApiError::from(LedgerError::WriterStopped);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
