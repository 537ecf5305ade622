//! What the dashboard's forms do: log in and out, refund a payment, send a held delivery again.
//! Refunds and deliveries go through the one path the admin API and the CLI use
//! (`shop::refund`, `outbox::deliver_again`): idempotent and recorded as events. Every form but
//! the login carries the session's CSRF token; one without it is refused with a 403.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::{PageError, PageResult};
use super::session::{Login, session_id};
use super::{Viewer, html, pages::LoginPage};
use crate::admin::AdminState;
use crate::admin::api::is_admin_token;
use crate::domain::{BotId, ChargeId};
use crate::outbox::AgainOutcome;
use crate::shop::RefundOutcome;

fn login_form(status: StatusCode, problem: Option<&str>) -> Response {
    let mut response = html(&LoginPage { problem });
    *response.status_mut() = status;
    response
}

pub async fn login_page(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if session_id(&headers).is_some_and(|id| state.sessions.is_live(id)) {
        return Redirect::to("/").into_response();
    }
    login_form(StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// The client's address, when the listener passes it on (it does; a router served without
/// connect info simply has none, and its logins are not slowed down per address).
pub struct Peer(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Peer(addr.map(|ConnectInfo(a)| a.ip())))
    }
}

pub async fn login(
    State(state): State<AdminState>,
    Peer(from): Peer,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_form(StatusCode::BAD_REQUEST, Some("Enter the admin token."));
    };
    let Some(token) = &state.token else {
        return login_form(
            StatusCode::UNAUTHORIZED,
            Some("The dashboard is off: set the admin token variable (admin.token_env)."),
        );
    };
    match state
        .sessions
        .login(from, || is_admin_token(form.token.trim(), token))
    {
        Login::Started(id) => {
            tracing::info!(client = ?from, "A dashboard session started.");
            let cookie = state.sessions.cookie(&id);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Login::Refused => {
            tracing::warn!(client = ?from, "Refused a dashboard login with a wrong token.");
            login_form(
                StatusCode::UNAUTHORIZED,
                Some("That is not the admin token."),
            )
        }
        Login::Locked(wait) => {
            let secs = wait.as_secs().max(1);
            let text = format!("Too many wrong tokens from this address; try again in {secs} s.");
            let mut response = login_form(StatusCode::TOO_MANY_REQUESTS, Some(&text));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
            response
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    viewer: Viewer,
    State(state): State<AdminState>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form?;
    if !viewer.csrf_ok(&state, &form.csrf) {
        return Err(PageError::csrf_refused());
    }
    state.sessions.end(&viewer.session);
    let cookie = state.sessions.cleared_cookie();
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct ChargeForm {
    #[serde(default)]
    csrf: String,
    bot: BotId,
    charge_id: ChargeId,
}

/// The checked form and the store it names, or why it is refused.
fn charge_form(
    viewer: &Viewer,
    state: &AdminState,
    form: Result<Form<ChargeForm>, FormRejection>,
) -> Result<(ChargeForm, std::sync::Arc<crate::shop::Store>), PageError> {
    let Form(form) = form?;
    if !viewer.csrf_ok(state, &form.csrf) {
        return Err(PageError::csrf_refused());
    }
    let Some(store) = state.store(&form.bot) else {
        let text = format!("There is no bot {}.", crate::brief::value(&form.bot));
        return Err(PageError::new(StatusCode::NOT_FOUND, "No such bot", text));
    };
    Ok((form, store))
}

fn back_to_review(notice: &str, charge_id: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("notice", notice)
        .append_pair("charge", charge_id)
        .finish();
    Redirect::to(&format!("/review?{query}")).into_response()
}

pub async fn refund(
    viewer: Viewer,
    State(state): State<AdminState>,
    form: Result<Form<ChargeForm>, FormRejection>,
) -> PageResult {
    let (form, store) = charge_form(&viewer, &state, form)?;
    let notice = match crate::shop::refund(&store, &form.charge_id, "dashboard").await {
        Ok(RefundOutcome::Refunded) => "refunded",
        Ok(RefundOutcome::AlreadyRefunded) => "already_refunded",
        Err(e) => return Err(PageError::refused("Refund refused", e)),
    };
    Ok(back_to_review(notice, &form.charge_id))
}

pub async fn deliver_again(
    viewer: Viewer,
    State(state): State<AdminState>,
    form: Result<Form<ChargeForm>, FormRejection>,
) -> PageResult {
    let (form, store) = charge_form(&viewer, &state, form)?;
    let notice = match crate::outbox::deliver_again(&store, &form.charge_id, "dashboard").await {
        Ok(AgainOutcome::Sent) => "sent",
        Ok(AgainOutcome::AlreadyDelivered) => "already_delivered",
        Err(e) => return Err(PageError::refused("Delivery refused", e)),
    };
    Ok(back_to_review(notice, &form.charge_id))
}
