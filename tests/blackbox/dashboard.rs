//! The seller's dashboard over HTTP, as a browser without JavaScript sees it: login, logout,
//! expiry, CSRF, 401s, filters, the CSV download against `ledger export`, escaping, and the
//! review queue's buttons. (`browser.rs` drives a real Chromium through the same pages.)

use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use serde_json::Value;
use starsgate::ledger::PaymentStatus;
use starsgate_sim::PayOutcome;

use crate::helpers::*;

pub const TOKEN: &str = "dashboard-admin-token-0123456789";

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

/// A browser without JavaScript: keeps the session cookie, follows no redirect by itself.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: base.to_owned(),
            client,
            cookie: None,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header(COOKIE, c),
            None => req,
        };
        let resp = req.send().await.expect("the admin listener answers");
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (location, set_cookie, retry_after) =
            (header(LOCATION), header(SET_COOKIE), header(RETRY_AFTER));
        Page {
            status: resp.status().as_u16(),
            location,
            set_cookie,
            retry_after,
            body: resp.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// Logs in with `token`; keeps the cookie when it works.
    pub async fn login(&mut self, token: &str) -> Page {
        let page = self.post("/login", &[("token", token)]).await;
        if let Some(c) = &page.set_cookie {
            self.cookie = c.split(';').next().map(str::to_owned);
        }
        page
    }

    /// The CSRF token in the forms of the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let body = self.get(path).await.body;
        let at = body
            .find("name=\"csrf\" value=\"")
            .expect("the page has a form with a CSRF token");
        let rest = &body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub async fn with_dashboard(h: &mut Harness) -> (starsgate::app::Running, String) {
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", TOKEN);
    let gw = h.start().await;
    let base = format!("http://{}", gw.admin_addr().expect("admin listener"));
    (gw, base)
}

async fn bearer_json(url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_logs_in_with_the_admin_token_and_logs_out_again() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let (gw, base) = with_dashboard(&mut h).await;
    let mut b = Browser::new(&base);
    let page = b.get("/").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/login"))
    );
    let login = b.get("/login").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("name=\"token\""));

    let wrong = b.login("not-the-token").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.set_cookie.is_none(), "a wrong token gets no cookie");
    assert!(wrong.body.contains("not the admin token"));

    let ok = b.login(TOKEN).await;
    assert_eq!((ok.status, ok.location.as_deref()), (303, Some("/")));
    let cookie = ok.set_cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "Secure is off unless configured"
    );
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    for path in ["/", "/payments", "/review", "/memberships", "/stores"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains(TOKEN), "{path} shows no admin token");
        for bot in [GUIDES, GAMES] {
            assert!(
                !page.body.contains(&h.token(bot)),
                "{path} shows no bot token"
            );
        }
    }

    let csrf = b.csrf("/").await;
    assert_eq!(b.post("/logout", &[("csrf", "forged")]).await.status, 403);
    assert_eq!(
        b.get("/").await.status,
        200,
        "a refused logout keeps the session"
    );
    let out = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    let after = b.get("/").await;
    assert_eq!(
        (after.status, after.location.as_deref()),
        (303, Some("/login"))
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires_and_the_cookie_can_be_marked_secure() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.set_gateway("admin", "session_secs", "1");
    h.set_gateway("admin", "cookie_secure", "true");
    let (gw, base) = with_dashboard(&mut h).await;
    let mut b = Browser::new(&base);
    let ok = b.login(TOKEN).await;
    assert!(ok.set_cookie.unwrap().ends_with("; Secure"));
    eventually("the session expires", || async {
        b.get("/").await.location.as_deref() == Some("/login")
    })
    .await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_pages_redirect_and_data_answers_401_but_the_bearer_token_works() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let (gw, base) = with_dashboard(&mut h).await;
    let b = Browser::new(&base);
    for path in ["/", "/payments", "/review", "/memberships", "/stores"] {
        let page = b.get(path).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/login")),
            "{path}"
        );
    }
    for path in ["/review/refund", "/review/deliver-again", "/logout"] {
        let page = b
            .post(path, &[("csrf", "x"), ("bot", GUIDES), ("charge_id", "x")])
            .await;
        assert_eq!(page.location.as_deref(), Some("/login"), "{path}");
    }
    for path in ["/admin/series", "/admin/overview", "/payments.csv"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 401, "{path}");
        let body: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(body["ok"], false, "{path}");
        assert_eq!(
            bearer_json(&format!("{base}{path}")).await.0,
            200,
            "{path} with the token"
        );
    }
    let (status, body) = bearer_json(&format!(
        "{base}/admin/series?from=2026-01-01&to=2026-01-03"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["days"].as_array().unwrap().len(), 3);
    assert_eq!(
        bearer_json(&format!("{base}/admin/stats")).await.0,
        200,
        "the API is unchanged"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_tokens_from_one_address_are_slowed_down() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let (gw, base) = with_dashboard(&mut h).await;
    let mut b = Browser::new(&base);
    for _ in 0..5 {
        assert_eq!(b.login("guess").await.status, 401);
    }
    let locked = b.login(TOKEN).await;
    assert_eq!(locked.status, 429, "even the right token waits");
    assert!(locked.retry_after.is_some());
    assert!(locked.set_cookie.is_none());
    assert_eq!(
        bearer_json(&format!("{base}/admin/stats")).await.0,
        200,
        "the API still answers"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dates_and_filters_get_a_clear_400_not_a_500() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let (gw, base) = with_dashboard(&mut h).await;
    let mut b = Browser::new(&base);
    b.login(TOKEN).await;
    for (path, words) in [
        ("/?from=31.01.2026", "from:"),
        ("/?from=2026-02-01&to=2026-01-01", "after"),
        ("/payments?status=shipped", "status:"),
        ("/payments?user_id=alice", "user_id:"),
        ("/payments?page=-1", "page:"),
        ("/memberships?bot=guides&user_id=x", "user_id:"),
        ("/admin/series?to=tomorrow", "to:"),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 400, "{path}");
        assert!(page.body.contains(words), "{path}: {}", page.body);
    }
    gw.stop().await;
    h.finish().await;
}

async fn the_csv_download_equals_ledger_export_and_the_filters_narrow_the_payments(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    let (gw, base) = with_dashboard(&mut h).await;
    h.buy(GUIDES, 2001, "premium-guide").await;
    h.buy(GUIDES, 2002, "starter-pack").await;
    let (games_charge, _) = h.buy(GAMES, 2003, "gold-chest").await;
    let ledger = h.ledger().await;
    h.settle().await;
    starsgate::shop::refund(
        &gw.store(GAMES).unwrap(),
        &charge_id_of(&games_charge),
        "test",
    )
    .await
    .unwrap();
    eventually("three payments", || async {
        ledger.payments(None).await.unwrap().len() == 3
    })
    .await;
    let mut b = Browser::new(&base);
    b.login(TOKEN).await;
    let export = |args: &[&str]| {
        let out = h
            .command()
            .args(["ledger", "export", "--config"])
            .arg(h.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(b.get("/payments.csv").await.body, export(&[]));
    assert_eq!(
        b.get("/payments.csv?bot=guides").await.body,
        export(&["--bot", "guides"])
    );
    let today = chrono_today();
    assert_eq!(
        b.get(&format!("/payments.csv?from={today}")).await.body,
        export(&["--since", &today])
    );
    let none = b.get("/payments.csv?bot=nobody").await.body;
    assert_eq!(
        none,
        export(&["--bot", "nobody"]),
        "an empty export is its header"
    );

    let refunded = b.get("/payments?status=refunded").await.body;
    assert!(refunded.contains(&games_charge));
    assert!(refunded.contains("<span id=\"total\">1</span>"));
    let guides = b
        .get("/payments?bot=guides&product=starter-pack")
        .await
        .body;
    assert!(guides.contains("<span id=\"total\">1</span>"));
    let link = guides.replace("&#38;", "&").replace("&amp;", "&");
    assert!(link.contains("href=\"/payments.csv?bot=guides&product=starter-pack\""));
    let csv = b
        .get("/payments.csv?bot=guides&product=starter-pack")
        .await
        .body;
    assert_eq!(
        csv.lines().count(),
        2,
        "the header and the one payment the filter shows"
    );
    let buyer = b.get("/payments?user_id=2002").await.body;
    assert!(buyer.contains("<span id=\"total\">1</span>"));
    gw.stop().await;
    h.finish().await;
}

/// Today (UTC) as `YYYY-MM-DD`, from the system clock like the gateway's.
pub fn chrono_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn the_overview_agrees_with_stats(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let (gw, base) = with_dashboard(&mut h).await;
    h.buy(GUIDES, 2101, "premium-guide").await;
    h.buy(GUIDES, 2102, "premium-guide").await;
    let (refund_me, _) = h.buy(GAMES, 2103, "gold-chest").await;
    h.settle().await;
    starsgate::shop::refund(&gw.store(GAMES).unwrap(), &charge_id_of(&refund_me), "test")
        .await
        .unwrap();
    let (_, stats) = bearer_json(&format!("{base}/admin/stats")).await;
    let net: i64 = stats["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["net_revenue"].as_i64().unwrap())
        .sum();
    let (_, o) = bearer_json(&format!("{base}/admin/overview")).await;
    let o = &o["overview"];
    assert_eq!(o["totals"]["net_stars"].as_i64(), Some(net));
    assert_eq!(o["stats"], stats["stats"], "per product, as stats");
    assert_eq!(o["totals"]["paid_orders"], 3);
    assert_eq!(o["totals"]["refunds"], 1);
    assert_eq!(o["funnel"]["paid"], 3);
    assert!(o["funnel"]["invoices"].as_i64().unwrap() >= 3);
    assert!(o["funnel"]["pre_checkouts_approved"].as_i64().unwrap() >= 3);
    let (_, series) = bearer_json(&format!("{base}/admin/series")).await;
    let days = series["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    let series_net: i64 = days.iter().map(|d| d["net_stars"].as_i64().unwrap()).sum();
    let refunded: i64 = days
        .iter()
        .map(|d| d["refunded_stars"].as_i64().unwrap())
        .sum();
    assert_eq!(series_net, net);
    assert!(refunded > 0, "refunds are visible in the series");
    let mut b = Browser::new(&base);
    b.login(TOKEN).await;
    let page = b.get("/").await.body;
    assert!(
        page.contains(&format!("id=\"net-stars\">{net}<")),
        "the page shows the same net"
    );
    assert!(page.contains("id=\"chart\""));
    gw.stop().await;
    h.finish().await;
}

const HTML_BOT: &str = r#"
token_env = "HTML_TOKEN"
support = "s"
terms = "t"

[[product]]
id = "tricky"
title = "<script>alert(1)</script>"
description = "A product whose texts hold markup."
price = 7
[product.config]
text = "<img src=x onerror=alert(2)>"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_titles_and_plugin_texts_is_shown_escaped() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot("html", HTML_BOT);
    let (gw, base) = with_dashboard(&mut h).await;
    h.say("html", 2201, "/buy tricky");
    h.wait_for_invoice("html", 2201, 1).await;
    h.sim.block_bot(&h.token("html"), 2201, true);
    let PayOutcome::Paid { charge_id, .. } = h.pay_latest("html", 2201).await else {
        panic!("paid")
    };
    let ledger = h.ledger().await;
    eventually("delivery_failed", || async {
        status(&ledger, "html", &charge_id).await == Some(PaymentStatus::DeliveryFailed)
    })
    .await;
    let mut b = Browser::new(&base);
    b.login(TOKEN).await;
    let stores = b.get("/stores").await.body;
    assert!(
        stores.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{stores}"
    );
    assert!(!stores.contains("<script>alert"));
    let review = b.get("/review").await.body;
    assert!(review.contains(&charge_id));
    assert!(
        review.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "{review}"
    );
    assert!(!review.contains("<img src=x"));
    gw.stop().await;
    h.finish().await;
}

async fn the_review_queue_delivers_again_and_refunds_through_the_one_path_and_refuses_forged_forms(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    let (gw, base) = with_dashboard(&mut h).await;
    let guides = h.token(GUIDES);
    let mut charges = Vec::new();
    for user in [2301, 2302] {
        h.say(GUIDES, user, "/buy premium-guide");
        h.wait_for_invoice(GUIDES, user, 1).await;
        h.sim.block_bot(&guides, user, true);
        let PayOutcome::Paid { charge_id, .. } = h.pay_latest(GUIDES, user).await else {
            panic!("paid")
        };
        charges.push(charge_id);
    }
    let ledger = h.ledger().await;
    for c in &charges {
        eventually("delivery_failed", || async {
            status(&ledger, GUIDES, c).await == Some(PaymentStatus::DeliveryFailed)
        })
        .await;
    }
    let mut b = Browser::new(&base);
    b.login(TOKEN).await;
    let review = b.get("/review").await.body;
    assert!(review.contains(&charges[0]) && review.contains(&charges[1]));
    assert!(review.contains("Why:"));
    let csrf = b.csrf("/review").await;

    let forged = b
        .post(
            "/review/refund",
            &[
                ("csrf", "forged"),
                ("bot", GUIDES),
                ("charge_id", &charges[1]),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let missing = b
        .post(
            "/review/refund",
            &[("bot", GUIDES), ("charge_id", &charges[1])],
        )
        .await;
    assert_eq!(missing.status, 403);
    assert_eq!(
        status(&ledger, GUIDES, &charges[1]).await,
        Some(PaymentStatus::DeliveryFailed)
    );

    h.sim.block_bot(&guides, 2301, false);
    let form = [
        ("csrf", csrf.as_str()),
        ("bot", GUIDES),
        ("charge_id", charges[0].as_str()),
    ];
    let sent = b.post("/review/deliver-again", &form).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(sent.location.unwrap().contains("notice=sent"));
    assert_eq!(
        status(&ledger, GUIDES, &charges[0]).await,
        Some(PaymentStatus::Delivered)
    );
    assert_eq!(
        h.deliveries(GUIDES, 2301).len(),
        1,
        "the stored delivery reached the buyer"
    );
    let again = b.post("/review/deliver-again", &form).await;
    assert!(again.location.unwrap().contains("notice=already_delivered"));
    assert_eq!(
        h.deliveries(GUIDES, 2301).len(),
        1,
        "asking again sends nothing more"
    );

    let form = [
        ("csrf", csrf.as_str()),
        ("bot", GUIDES),
        ("charge_id", charges[1].as_str()),
    ];
    let refunded = b.post("/review/refund", &form).await;
    assert!(refunded.location.unwrap().contains("notice=refunded"));
    let twice = b.post("/review/refund", &form).await;
    assert!(twice.location.unwrap().contains("notice=already_refunded"));
    assert_eq!(
        status(&ledger, GUIDES, &charges[1]).await,
        Some(PaymentStatus::Refunded)
    );
    let events = ledger
        .events(&bot_id(GUIDES), Some(&charge_id_of(&charges[1])))
        .await
        .unwrap();
    let recorded = events
        .iter()
        .filter(|e| e.kind == starsgate::ledger::EventKind::RefundRecorded)
        .count();
    assert_eq!(recorded, 1, "the refund is recorded once");
    assert_eq!(
        h.sim
            .star_transactions(&guides)
            .iter()
            .filter(|t| t.get("receiver").is_some())
            .count(),
        1
    );
    let queue = b.get("/review?notice=refunded&charge=x").await.body;
    assert!(queue.contains("id=\"empty\""), "the queue is empty now");
    gw.stop().await;
    h.finish().await;
}

crate::on_both_ledgers!(
    the_csv_download_equals_ledger_export_and_the_filters_narrow_the_payments,
    the_overview_agrees_with_stats,
    the_review_queue_delivers_again_and_refunds_through_the_one_path_and_refuses_forged_forms,
);
