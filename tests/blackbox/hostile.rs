//! Hostile and careless input to a running gateway: bot files and plugins that are FIFOs or
//! devices at reload, webhook bodies that would invent metric labels, admin requests that do
//! not fit. The gateway answers each briefly and keeps selling.

use serde_json::{Value, json};
use starsgate::config::Secret;
use starsgate::ingest::webhook::secret_token;

use crate::helpers::*;
use crate::on_both_ledgers;

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

async fn a_reload_refuses_files_that_are_not_regular_and_the_bots_keep_selling(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let bots = h.dir.path().join("bots");
    // guides.toml becomes a FIFO; games.toml a symlink to /dev/zero; a new bot's plugin a FIFO.
    mkfifo(&bots.join("guides.toml"));
    std::fs::remove_file(bots.join("games.toml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", bots.join("games.toml")).unwrap();
    mkfifo(&h.dir.path().join("fifo.wasm"));
    std::fs::write(
        bots.join("third.toml"),
        "token_env = \"GUIDES_BOT_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\nplugin = \"fifo.wasm\"\n",
    )
    .unwrap();
    let report = gw.reload().await;
    assert!(
        report.added.is_empty() && report.changed.is_empty() && report.removed.is_empty(),
        "{report}"
    );
    for (file, what) in [
        (
            "guides.toml: -: is not a regular file (it is a FIFO)",
            "guides",
        ),
        (
            "games.toml: -: is not a regular file (it is a device)",
            "games",
        ),
        (
            "third.toml: product[0].plugin: \"fifo.wasm\": is not a regular file (it is a FIFO)",
            "third",
        ),
    ] {
        assert!(
            report.rejected.iter().any(|r| r.ends_with(file)),
            "{what}: {report}"
        );
    }
    // Both bots still sell, with the configuration they had.
    h.buy(GUIDES, 9101, "premium-guide").await;
    h.buy(GAMES, 9102, "starter-pack").await;
    h.wait_for_deliveries(GUIDES, 9101, 1).await;
    h.wait_for_deliveries(GAMES, 9102, 1).await;
    gw.stop().await;
    h.finish().await;
}

/// The `{label="value"}` pairs of every sample of a metric in Prometheus text.
fn label_values(metrics: &str, metric: &str, label: &str) -> Vec<String> {
    let prefix = format!("{label}=\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let start = l.find(&prefix)? + prefix.len();
            let end = l[start..].find('"')?;
            Some(l[start..start + end].to_owned())
        })
        .collect()
}

pub const KINDS: [&str; 6] = [
    "message",
    "callback_query",
    "pre_checkout_query",
    "subscription",
    "purchased_paid_media",
    "other",
];

async fn webhook_bodies_cannot_add_metric_labels(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let base = h.use_webhooks();
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    let gw = h.start().await;
    let admin = format!("http://{}", gw.admin_addr().expect("admin listener"));
    let secret = secret_token(&Secret::new("test-master-secret-0123456789"), GUIDES);
    let client = reqwest::Client::new();
    for (i, key) in ["", "UPDATE_ID", "k000000", "edited_message", "\u{1b}[2J"]
        .iter()
        .enumerate()
    {
        let body = json!({"update_id": 900_000 + i as i64, *key: {"x": 1}});
        let status = client
            .post(format!("{base}/telegram/{GUIDES}"))
            .header("X-Telegram-Bot-Api-Secret-Token", &secret)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200, "{key:?}");
    }
    let metrics = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let kinds = label_values(&metrics, "starsgate_updates_total", "kind");
    assert!(kinds.contains(&"other".to_owned()), "{metrics}");
    for kind in kinds {
        assert!(
            KINDS.contains(&kind.as_str()),
            "label kind={kind:?}:\n{metrics}"
        );
    }
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_reload_refuses_files_that_are_not_regular_and_the_bots_keep_selling,
    webhook_bodies_cannot_add_metric_labels,
);

const TOKEN: &str = "admin-token-for-tests-0123";

async fn with_admin(backend: Backend) -> (Harness, starsgate::app::Running, String) {
    let mut h = Harness::new(backend).await;
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", TOKEN);
    let gw = h.start().await;
    let base = format!("http://{}", gw.admin_addr().expect("admin listener"));
    (h, gw, base)
}

/// Status, content type and JSON body of an admin call.
async fn admin(request: reqwest::RequestBuilder) -> (u16, String, Value) {
    let resp = request.send().await.expect("the admin listener answers");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, ctype, body)
}

fn assert_json_error(status: u16, ctype: &str, body: &Value, want: u16, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(ctype.starts_with("application/json"), "{what}: {ctype}");
    assert_eq!(body["ok"], false, "{what}: {body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    assert!(
        !error.is_empty() && error.chars().count() <= 301,
        "{what}: {error}"
    );
    assert!(!error.chars().any(char::is_control), "{what}: {error:?}");
}

async fn every_admin_refusal_is_json(backend: Backend) {
    let (h, gw, base) = with_admin(backend).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(TOKEN);
    let long = "9".repeat(10_000);
    let queries = [
        "/admin/subscriptions?bot=guides&user_id=abc".to_owned(),
        "/admin/subscriptions?bot=guides&user_id=".to_owned(),
        "/admin/subscriptions?bot=guides&user_id=99999999999999999999".to_owned(),
        "/admin/subscriptions?bot=guides&user_id=1.5".to_owned(),
        "/admin/subscriptions?bot=guides".to_owned(),
        "/admin/subscriptions?bot=guides&user_id=1&user_id=2".to_owned(),
        format!("/admin/subscriptions?bot=guides&user_id={long}"),
        "/admin/payments?bot=guides&bot=x".to_owned(),
        "/admin/payments?since=%00%1b".to_owned(),
        "/admin/stats?bot=a&bot=b".to_owned(),
    ];
    for path in &queries {
        let (status, ctype, body) = admin(get(path)).await;
        assert_json_error(status, &ctype, &body, 400, &path[..path.len().min(80)]);
    }
    // Unknown paths and methods.
    let (status, ctype, body) = admin(get("/admin/nothing-here")).await;
    assert_json_error(status, &ctype, &body, 404, "unknown path");
    let (status, ctype, body) = admin(
        client
            .delete(format!("{base}/admin/refund"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_json_error(status, &ctype, &body, 405, "wrong method");
    // Bodies: malformed, wrong shape, not JSON, too large.
    let post = |path: &str| client.post(format!("{base}{path}")).bearer_auth(TOKEN);
    for (what, request, want) in [
        (
            "malformed",
            post("/admin/refund")
                .header("content-type", "application/json")
                .body("{\"bot\":"),
            400,
        ),
        (
            "wrong shape",
            post("/admin/subscriptions/cancel").json(&json!({"bot": "guides", "user_id": "x"})),
            400,
        ),
        ("not JSON", post("/admin/refund").body("bot=guides"), 415),
        (
            "too large",
            post("/admin/refund")
                .header("content-type", "application/json")
                // Just over the limit: a server answering 413 before reading a far larger body
                // would reset the connection under the client's feet.
                .body(format!("{{\"bot\":\"{}\"}}", "x".repeat(70 << 10))),
            413,
        ),
    ] {
        let (status, ctype, body) = admin(request).await;
        assert_json_error(status, &ctype, &body, want, what);
    }
    // The scheme is case-insensitive.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, _, body) = admin(
            client
                .get(format!("{base}/admin/stats"))
                .header("authorization", format!("{scheme} {TOKEN}")),
        )
        .await;
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let (status, ctype, body) = admin(
        client
            .get(format!("{base}/admin/stats"))
            .header("authorization", format!("Basic {TOKEN}")),
    )
    .await;
    assert_json_error(status, &ctype, &body, 401, "another scheme");
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(every_admin_refusal_is_json);
