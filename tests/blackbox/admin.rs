//! The admin listener: health, readiness, metrics, and the bearer-token API end to end.

use serde_json::{Value, json};
use starsgate::ledger::PaymentStatus;
use starsgate_sim::{InvoiceRef, PayOutcome};

use crate::helpers::*;

const TOKEN: &str = "admin-token-for-tests-0123";

async fn with_admin() -> (Harness, starsgate::app::Running, String) {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", TOKEN);
    let gw = h.start().await;
    let base = format!(
        "http://{}",
        gw.admin_addr().expect("the admin listener is bound")
    );
    (h, gw, base)
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the admin listener answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_a_wrong_token_gets_401() {
    let (h, gw, base) = with_admin().await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/payments"),
        (reqwest::Method::GET, "/admin/stats"),
        (reqwest::Method::POST, "/admin/refund"),
        (reqwest::Method::POST, "/admin/invoice-link"),
        (
            reqwest::Method::GET,
            "/admin/subscriptions?bot=guides&user_id=1",
        ),
        (reqwest::Method::POST, "/admin/subscriptions/cancel"),
    ] {
        let url = format!("{base}{path}");
        let body = Some(json!({"bot": GUIDES, "charge_id": "x", "product": "premium-guide"}));
        assert_eq!(
            call(method.clone(), &url, None, body.clone()).await.0,
            401,
            "{path} without a token"
        );
        assert_eq!(
            call(method.clone(), &url, Some("wrong"), body.clone())
                .await
                .0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            call(method, &url, Some(&TOKEN[..TOKEN.len() - 1]), body)
                .await
                .0,
            401,
            "{path} with a prefix"
        );
    }
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "health needs no token");
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cancels_a_buyers_membership_through_the_api() {
    let (h, gw, base) = with_admin().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, 3101, "/buy pro-monthly");
    eventually("an invoice link", || async {
        !h.sim.invoices(&token).is_empty()
    })
    .await;
    h.pay_latest(GUIDES, 3101).await;
    h.wait_for_deliveries(GUIDES, 3101, 1).await;
    let list = format!("{base}/admin/subscriptions?bot={GUIDES}&user_id=3101");
    eventually("the membership listed", || async {
        let (_, body) = call(reqwest::Method::GET, &list, Some(TOKEN), None).await;
        body["subscriptions"][0]["state"] == "active"
    })
    .await;
    let url = format!("{base}/admin/subscriptions/cancel");
    let cancel = json!({"bot": GUIDES, "user_id": 3101, "product": "pro-monthly"});
    let (status, body) = call(reqwest::Method::POST, &url, Some(TOKEN), Some(cancel)).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("cancelled")),
        "{body}"
    );
    assert!(
        h.sim.subscriptions(&token)[0].is_canceled,
        "Telegram stops the renewal"
    );
    let (_, body) = call(reqwest::Method::GET, &list, Some(TOKEN), None).await;
    assert_eq!(body["subscriptions"][0]["state"], "cancelled", "{body}");
    let other = json!({"bot": GUIDES, "user_id": 3102, "product": "pro-monthly"});
    let (status, _) = call(reqwest::Method::POST, &url, Some(TOKEN), Some(other)).await;
    assert_eq!(status, 404, "a buyer without that membership");
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_through_the_admin_api_works_end_to_end() {
    let (h, gw, base) = with_admin().await;
    let (charge, _) = h.buy(GAMES, 3001, "gold-chest").await;
    h.wait_for_deliveries(GAMES, 3001, 1).await;
    let url = format!("{base}/admin/refund");
    let (status, body) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GAMES, "charge_id": charge})),
    )
    .await;
    assert_eq!((status, body["ok"].clone()), (200, json!(true)), "{body}");
    let (status, body) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GAMES, "charge_id": charge})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["outcome"]
            .as_str()
            .unwrap_or("")
            .starts_with("Already refunded"),
        "{body}"
    );
    let (status, _) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GAMES, "charge_id": "nope"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": 7})),
    )
    .await;
    assert_eq!(status, 400, "a malformed body is a clear 400");
    let (status, body) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GAMES, "charge_id": "two words"})),
    )
    .await;
    assert_eq!(
        status, 400,
        "a charge id no charge can have is refused: {body}"
    );
    assert!(
        body.to_string().contains("charge"),
        "the error names the field: {body}"
    );
    let ledger = h.ledger().await;
    assert_eq!(
        payment(&ledger, GAMES, &charge).await.status,
        PaymentStatus::Refunded
    );
    let (_, listed) = call(
        reqwest::Method::GET,
        &format!("{base}/admin/payments?bot={GAMES}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(listed["payments"][0]["status"], "refunded", "{listed}");
    let (_, stats) = call(
        reqwest::Method::GET,
        &format!("{base}/admin/stats"),
        Some(TOKEN),
        None,
    )
    .await;
    assert!(
        stats["stats"].as_array().is_some_and(|s| !s.is_empty()),
        "{stats}"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_link_from_the_admin_api_sells_outside_a_chat() {
    let (h, gw, base) = with_admin().await;
    let url = format!("{base}/admin/invoice-link");
    let (status, body) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GUIDES, "product": "premium-guide"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let link = body["link"].as_str().expect("a link").to_owned();
    assert!(link.starts_with("https://t.me/$"), "{link}");
    // A buyer who came from a website pays the link.
    h.sim.add_user(3101, "Web buyer");
    h.say(GUIDES, 3101, "hi");
    h.wait_for(GUIDES, 3101, "an answer", |m| !m.is_empty())
        .await;
    let outcome = h
        .sim
        .pay(&h.token(GUIDES), 3101, &InvoiceRef::Link(link))
        .await
        .unwrap();
    let PayOutcome::Paid { charge_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let delivered = h.wait_for_deliveries(GUIDES, 3101, 1).await;
    assert!(delivered[0].contains("python-integration.pdf"));
    let p = payment(&h.ledger().await, GUIDES, &charge_id).await;
    assert_eq!(p.order_id.as_deref(), body["order_id"].as_str());
    let (status, _) = call(
        reqwest::Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"bot": GUIDES, "product": "nothing"})),
    )
    .await;
    assert_eq!(status, 404);
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_report_the_running_gateway() {
    let (h, gw, base) = with_admin().await;
    eventually("ready", || async {
        reqwest::get(format!("{base}/readyz"))
            .await
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    })
    .await;
    h.buy(GUIDES, 3201, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, 3201, 1).await;
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for metric in [
        "starsgate_updates_total",
        "starsgate_precheckout_seconds_bucket",
        "starsgate_payments_total",
        "starsgate_deliveries_total",
        "starsgate_plugin_fuel",
    ] {
        assert!(text.contains(metric), "/metrics lacks {metric}:\n{text}");
    }
    assert!(!text.contains(&h.token(GUIDES)), "no token in metrics");
    gw.stop().await;
    h.finish().await;
}
