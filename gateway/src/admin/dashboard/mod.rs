//! The seller's dashboard, served by the admin listener at `/`: revenue, payments, the review
//! queue, memberships and stores on web pages a seller would rather open than the command line.
//!
//! - Pages render on the server from askama templates compiled into the binary (HTML-escaped by
//!   default, so a product title or plugin text holding markup shows as text). The one script
//!   is a vendored copy of uPlot (MIT, ~50 kB) drawing the revenue chart from
//!   `GET /admin/series`: nothing loads from elsewhere, the page works offline.
//! - Who: a login with the admin token gives a session cookie (`session.rs`); pages without one
//!   redirect to `/login`, data endpoints answer 401 unless they get the session or the admin
//!   API's bearer token. Forms that change anything carry the session's CSRF token.
//! - What: the same ledger reads as `starsgate stats` and `ledger export` (`ledger/views.rs`),
//!   and the same refund and deliver-again paths as the admin API, so the page cannot disagree
//!   with the command line.

mod actions;
mod data;
mod error;
mod filters;
mod memberships;
mod pages;
mod series;
pub mod session;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::AdminState;
use super::api::{error, has_bearer_token};
use session::session_id;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/payments", get(pages::payments))
        .route("/payments.csv", get(data::payments_csv))
        .route("/review", get(pages::review))
        .route("/memberships", get(memberships::page))
        .route("/stores", get(pages::stores))
        .route("/login", get(actions::login_page).post(actions::login))
        .route("/logout", post(actions::logout))
        .route("/review/refund", post(actions::refund))
        .route("/review/deliver-again", post(actions::deliver_again))
        .route("/admin/series", get(data::series))
        .route("/admin/overview", get(data::overview))
        .route("/assets/{name}", get(data::asset))
}

/// A browser with a live session. Without one, a page answers with a redirect to the login.
pub struct Viewer {
    /// The CSRF token its forms carry.
    pub csrf: String,
    session: String,
}

impl FromRequestParts<AdminState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        match session_id(&parts.headers).filter(|id| state.sessions.is_live(id)) {
            Some(id) => Ok(Viewer {
                csrf: state.sessions.csrf(id),
                session: id.to_owned(),
            }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

impl Viewer {
    pub fn csrf_ok(&self, state: &AdminState, given: &str) -> bool {
        state.sessions.csrf_ok(&self.session, given)
    }
}

/// A caller allowed to read the dashboard's data: a live session or the admin API's bearer
/// token. Anyone else gets a JSON 401.
pub struct Reader;

impl FromRequestParts<AdminState> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        let session = session_id(&parts.headers).is_some_and(|id| state.sessions.is_live(id));
        if session || has_bearer_token(parts, state) {
            Ok(Reader)
        } else {
            Err(error(
                StatusCode::UNAUTHORIZED,
                "log in on the dashboard or send a valid bearer token",
            ))
        }
    }
}

/// A page saying one thing (a refusal, a bad filter), with the status it goes with.
pub fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    use askama::Template;
    let page = pages::MessagePage {
        title,
        message: &crate::brief::line(message),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => render_failed(&e),
    }
}

/// A template that failed to render (a bug, not the caller's fault): a plain 500.
pub fn render_failed(e: &askama::Error) -> Response {
    tracing::error!(error = %e, "A dashboard page failed to render.");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the page could not be rendered; see the gateway's log\n",
    )
        .into_response()
}

/// Renders `page` as HTML (200).
pub fn html(page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => render_failed(&e),
    }
}
