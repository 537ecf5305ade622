//! The HTTP face of the simulator: routing `/bot<token>[/test]/<method>`, decoding parameters,
//! applying injected faults, and answering in Telegram's envelope.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::faults;
use crate::methods::{self, Ctx, Reply};
use crate::params::Params;
use crate::state::Shared;
use crate::types::{ApiCall, Fault};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    crate::control::routes()
        .fallback(bot_api)
        .with_state(shared)
}

/// Splits `/bot<token>/<method>` or `/bot<token>/test/<method>`. The test environment is
/// served by the same bot state: one simulated bot per token is what tests want to inspect.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.trim_start_matches('/').strip_prefix("bot")?;
    let (token, method) = rest.split_once('/')?;
    let method = method.strip_prefix("test/").unwrap_or(method);
    let valid = !token.is_empty() && !method.is_empty() && !method.contains('/');
    valid.then_some((token, method))
}

async fn bot_api(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((token, method)) = split_path(uri.path()) else {
        return ApiError::new(404, "Not Found").into_response();
    };
    {
        let mut world = shared.world();
        if !world.bots.contains_key(token) {
            world
                .refused
                .entry(token.to_owned())
                .or_default()
                .push(canonical_name(method));
            return ApiError::unauthorized().into_response();
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (name, params, result) = match Params::parse(content_type, uri.query(), &body) {
        Ok(params) => {
            let (name, result) = with_faults(&shared, token, method, &params).await;
            (name, params, result)
        }
        Err(e) => (canonical_name(method), Params::default(), Err(e)),
    };
    let status = result.as_ref().map_or_else(|e| e.code, |_| 200);
    let test_env = uri.path().contains("/test/");
    record_call(&shared, token, name, &params, status, test_env);
    match result {
        Ok(reply) => {
            let mut body = json!({ "ok": true, "result": reply.result });
            if let Some(description) = reply.description {
                body["description"] = json!(description);
            }
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn canonical_name(method: &str) -> String {
    methods::canonical(method).map_or_else(|| method.to_owned(), str::to_owned)
}

/// Applies the next armed fault for this method around the real handling.
async fn with_faults(
    shared: &Arc<Shared>,
    token: &str,
    method: &str,
    params: &Params,
) -> (String, ApiResult<Reply>) {
    let fault = {
        let mut world = shared.world();
        world
            .faults
            .get_mut(token)
            .and_then(|slots| faults::take(slots, &method.to_ascii_lowercase()))
    };
    match fault {
        Some(Fault::TooManyRequests { retry_after, .. }) => {
            return (
                canonical_name(method),
                Err(ApiError::too_many_requests(retry_after)),
            );
        }
        Some(Fault::BadRequest { description, .. }) => {
            return (
                canonical_name(method),
                Err(ApiError::new(400, &description)),
            );
        }
        Some(Fault::ServerError { .. }) => {
            return (
                canonical_name(method),
                Err(ApiError::new(500, "Internal Server Error")),
            );
        }
        Some(Fault::Slow { millis, .. }) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(millis)) => {}
                _ = shared.cancel.cancelled() => {}
            }
        }
        _ => {}
    }
    let (name, result) = execute(shared, token, method, params).await;
    if matches!(fault, Some(Fault::DropResponse { .. })) {
        return (name, Err(ApiError::new(502, "Bad Gateway")));
    }
    (name, result)
}

/// Runs a method given in any letter case; returns its canonical name and the outcome.
pub(crate) async fn execute(
    shared: &Arc<Shared>,
    token: &str,
    method: &str,
    params: &Params,
) -> (String, ApiResult<Reply>) {
    let Some(name) = methods::canonical(method) else {
        return (method.to_owned(), Err(ApiError::method_not_found()));
    };
    let ctx = Ctx {
        shared,
        token,
        params,
    };
    (name.to_owned(), methods::dispatch(&ctx, name).await)
}

pub(crate) fn record_call(
    shared: &Shared,
    token: &str,
    method: String,
    params: &Params,
    status: u16,
    test_env: bool,
) {
    if let Some(bot) = shared.world().bots.get_mut(token) {
        bot.calls.push(ApiCall {
            method,
            params: params.to_value(),
            status,
            test_env,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn paths_with_and_without_the_test_environment_are_understood() {
        assert_eq!(split_path("/bot1:abc/getMe"), Some(("1:abc", "getMe")));
        assert_eq!(split_path("/bot1:abc/test/getMe"), Some(("1:abc", "getMe")));
        assert_eq!(
            split_path("//bot1:abc/SendMessage"),
            Some(("1:abc", "SendMessage"))
        );
        assert_eq!(split_path("/bot1:abc/"), None);
        assert_eq!(split_path("/sim/x"), None);
    }
}
