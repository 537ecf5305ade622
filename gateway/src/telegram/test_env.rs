//! Telegram's test environment serves bots at `/bot<token>/test/<method>`. teloxide builds
//! `/bot<token>/<method>` and percent-encodes any `/` put inside a segment, so it cannot reach
//! that path. This loopback proxy (the teloxide maintainers' suggestion, teloxide#1039) rewrites
//! each request to the test path and relays the answer unchanged.

use axum::serve::ListenerExt;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

#[derive(Clone)]
struct Upstream {
    base: url::Url,
    http: reqwest::Client,
}

pub struct TestEnvProxy {
    pub url: url::Url,
    task: tokio::task::JoinHandle<()>,
}

impl TestEnvProxy {
    /// Starts the proxy on a loopback port in front of `upstream` (the configured api_url).
    pub async fn start(upstream: &url::Url) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Upstream {
            base: upstream.clone(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(90))
                .build()
                .unwrap_or_default(),
        };
        let app = Router::new()
            .route("/{bot}/{method}", post(forward))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                app,
            )
            .await;
        });
        let url = url::Url::parse(&format!("http://{addr}/"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self { url, task })
    }
}

impl Drop for TestEnvProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(up): State<Upstream>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut url = up.base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .push(&bot)
            .push("test")
            .push(&method);
    }
    let mut req = up.http.post(url).body(body);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    match req.send().await {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(v) = retry_after {
                out.headers_mut().insert(header::RETRY_AFTER, v);
            }
            out
        }
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"ok":false,"error_code":502,"description":"Bad Gateway: the test-environment proxy could not reach Telegram"}"#,
        )
            .into_response(),
    }
}
