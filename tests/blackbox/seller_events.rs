//! Seller events (`[events]`): a real HTTP receiver on loopback verifies every signature, and
//! answers, fails, hangs or is down as a seller's backend might.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use starsgate::domain::SellerEventType;
use starsgate::ledger::{PaymentStatus, SellerEventFilter, SellerEventStatus};
use starsgate::seller_events::signature;

use crate::helpers::*;
use crate::on_both_ledgers;

const SECRET_VAR: &str = "GUIDES_EVENTS_SECRET";
const SECRET: &str = "whsec_test_0123456789abcdef";
const ALICE: i64 = 9101;
const BOB: i64 = 9102;

/// How the receiver answers a request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Never answers (the sender's timeout ends it).
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id_header: String,
    pub body: Value,
    /// The signature checked against the raw body with the seller's secret.
    pub verified: Result<(), signature::VerifyError>,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A seller's backend on a loopback port.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    default: Answer,
    task: Option<tokio::task::JoinHandle<()>>,
    addr: std::net::SocketAddr,
}

impl Receiver {
    /// Listening now, answering `default` unless scripted.
    pub async fn start(default: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let addr = listener.local_addr().expect("receiver address");
        let mut r = Self::down_at(addr, default);
        r.serve(listener);
        r
    }

    /// Not listening yet (connections are refused) on a port `come_up` will listen on.
    pub fn down(default: Answer) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::down_at(([127, 0, 0, 1], port).into(), default)
    }

    fn down_at(addr: std::net::SocketAddr, default: Answer) -> Self {
        Self {
            url: format!("http://{addr}/starsgate"),
            state: Arc::default(),
            default,
            task: None,
            addr,
        }
    }

    pub async fn come_up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the receiver's port again");
        self.serve(listener);
    }

    /// The next answers, before the default applies again.
    pub fn script(&self, answers: &[Answer]) {
        self.lock().script.extend(answers.iter().copied());
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let state = self.state.clone();
        let default = self.default;
        let app = axum::Router::new().route(
            "/starsgate",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move { receive(state, default, headers, body).await }
                },
            ),
        );
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Waits until the receiver got `n` requests, and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("{n} event request(s)"), || async {
            self.lock().received.len() >= n
        })
        .await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn receive(
    state: Arc<Mutex<State>>,
    default: Answer,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let received = Received {
        id_header: header("starsgate-event-id"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified: signature::verify(SECRET, &header("starsgate-signature"), &body, now),
    };
    let answer = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(header("content-type"), "application/json");
        s.received.push(received);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.script.pop_front().unwrap_or(default)
    };
    let status = match answer {
        Answer::Status(code) => code,
        Answer::Hang => std::future::pending::<u16>().await,
    };
    state.lock().unwrap_or_else(|p| p.into_inner()).in_flight -= 1;
    axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK)
}

/// A harness whose `guides` bot sends its events to `url` (only `types`, if given).
async fn harness_sending_to(backend: Backend, url: &str, types: Option<&str>) -> Harness {
    let mut h = Harness::new(backend).await;
    h.set_secret(SECRET_VAR, SECRET);
    add_events(&h, "guides", url, types);
    h
}

fn add_events(h: &Harness, bot: &str, url: &str, types: Option<&str>) {
    let path = h.dir.path().join("bots").join(format!("{bot}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("bot file");
    text.push_str(&format!(
        "\n[events]\nurl = \"{url}\"\nsecret_env = \"{SECRET_VAR}\"\n"
    ));
    if let Some(types) = types {
        text.push_str(&format!("types = {types}\n"));
    }
    std::fs::write(&path, text).expect("write bot file");
}

fn types_of(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.body["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Waits until the ledger holds no pending event.
async fn wait_until_all_sent(h: &Harness) {
    let ledger = h.ledger().await;
    eventually("every event to be acknowledged", || async {
        let pending = ledger
            .seller_events(&SellerEventFilter {
                status: Some(SellerEventStatus::Pending),
                ..Default::default()
            })
            .await
            .expect("read events");
        pending.is_empty()
    })
    .await;
}

async fn a_sale_sends_signed_events_in_order_that_the_seller_can_verify(backend: Backend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(backend, &receiver.url, None).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(types_of(&got), ["payment.succeeded", "delivery.succeeded"]);
    for r in &got {
        assert_eq!(
            r.verified,
            Ok(()),
            "the signature verifies with the seller's secret"
        );
        assert_eq!(r.body["id"], r.id_header, "the id header is the body's id");
        assert_eq!(r.body["bot"], GUIDES);
        assert_eq!(r.body["data"]["charge_id"], charge.as_str());
        assert_eq!(r.body["data"]["product"], "premium-guide");
        assert_eq!(r.body["data"]["currency"], "XTR");
        assert!(
            r.body["created_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }
    assert_eq!(
        got[0].body["data"]["status"], "paid",
        "the payment as it was when paid"
    );
    assert_eq!(got[1].body["data"]["status"], "delivered");
    assert_ne!(got[0].id_header, got[1].id_header);
    wait_until_all_sent(&h).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "each event once when acknowledged"
    );
    gw.stop().await;
    h.finish().await;
}

async fn an_endpoint_that_fails_once_gets_the_event_again_and_then_no_more(backend: Backend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    receiver.script(&[Answer::Status(500)]);
    let mut h = harness_sending_to(backend, &receiver.url, Some("[\"payment.succeeded\"]")).await;
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", "admin-token-for-events-0123");
    let gw = h.start().await;
    h.buy(GUIDES, ALICE, "premium-guide").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(
        got[0].id_header, got[1].id_header,
        "the retry has the same id"
    );
    assert_eq!(got[0].body, got[1].body, "and the same body");
    wait_until_all_sent(&h).await;
    h.settle().await;
    let ledger = h.ledger().await;
    let events = ledger
        .seller_events(&SellerEventFilter::default())
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        1,
        "only the listed type is written: {events:?}"
    );
    assert_eq!(events[0].status, SellerEventStatus::Sent);
    assert_eq!(events[0].attempts, 2);
    assert_eq!(receiver.received().len(), 2, "nothing after the 2xx");
    let admin = gw.admin_addr().expect("the admin listener");
    let listed: Value = reqwest::Client::new()
        .get(format!("http://{admin}/admin/events?status=sent"))
        .bearer_auth("admin-token-for-events-0123")
        .send()
        .await
        .expect("GET /admin/events")
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["events"][0]["id"], events[0].id.as_str(), "{listed}");
    assert_eq!(listed["events"][0]["attempts"], 2);
    assert!(
        listed["events"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 500"))
    );
    gw.stop().await;
    h.finish().await;
}

async fn an_endpoint_that_was_down_gets_everything_once_it_returns(backend: Backend) {
    let mut receiver = Receiver::down(Answer::Status(204));
    let h = harness_sending_to(backend, &receiver.url, None).await;
    let gw = h.start().await;
    for buyer in [ALICE, BOB] {
        h.buy(GUIDES, buyer, "premium-guide").await;
        h.wait_for_deliveries(GUIDES, buyer, 1).await;
    }
    let ledger = h.ledger().await;
    // Each payment's first event fails; its second waits behind it (in order per payment).
    eventually("each payment's first event to have failed", || async {
        let events = ledger
            .seller_events(&SellerEventFilter::default())
            .await
            .unwrap();
        let (first, second): (Vec<_>, Vec<_>) = events
            .iter()
            .partition(|e| e.event_type == SellerEventType::PaymentSucceeded);
        events.len() == 4
            && first
                .iter()
                .all(|e| e.attempts >= 1 && e.last_error.is_some())
            && second.iter().all(|e| e.attempts == 0)
    })
    .await;
    // And it is not due before the one it waits for, so the sender never walks over it (the
    // cost of a poll does not grow with a dead endpoint's backlog).
    let events = ledger
        .seller_events(&SellerEventFilter::default())
        .await
        .unwrap();
    let charge = |e: &starsgate::ledger::SellerEvent| {
        let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
        body["data"]["charge_id"].as_str().unwrap_or("").to_owned()
    };
    for second in events
        .iter()
        .filter(|e| e.event_type == SellerEventType::DeliverySucceeded)
    {
        let first = events
            .iter()
            .find(|e| {
                e.event_type == SellerEventType::PaymentSucceeded && charge(e) == charge(second)
            })
            .expect("each delivery event has its payment event");
        assert!(
            second.next_attempt_at >= first.next_attempt_at,
            "a queued event is due no earlier than the one before it"
        );
    }
    receiver.come_up().await;
    wait_until_all_sent(&h).await;
    let got = receiver.received();
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.id_header.clone()).collect();
    assert_eq!(ids.len(), 4, "every event arrived: {:?}", types_of(&got));
    assert!(got.iter().all(|r| r.verified.is_ok()));
    // In order per payment: each payment's `payment.succeeded` before its `delivery.succeeded`.
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for r in &got {
        let charge = r.body["data"]["charge_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        seen.entry(charge)
            .or_default()
            .push(r.body["type"].as_str().unwrap_or("").to_owned());
    }
    for (charge, types) in seen {
        assert_eq!(
            types,
            ["payment.succeeded", "delivery.succeeded"],
            "{charge}"
        );
    }
    gw.stop().await;
    h.finish().await;
}

async fn a_hanging_endpoint_does_not_hold_back_sales_or_other_bots(backend: Backend) {
    let hanging = Receiver::start(Answer::Hang).await;
    let healthy = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(backend, &hanging.url, None).await;
    add_events(&h, "games", &healthy.url, None);
    let gw = h.start().await;
    // Six buyers: twelve events for the hanging endpoint, more than it may hold in flight.
    for buyer in 0..6 {
        h.buy(GUIDES, ALICE + buyer, "premium-guide").await;
    }
    for buyer in 0..6 {
        h.wait_for_deliveries(GUIDES, ALICE + buyer, 1).await;
    }
    h.buy(GAMES, BOB, "starter-pack").await;
    h.wait_for_deliveries(GAMES, BOB, 1).await;
    let got = healthy.wait_for(2).await;
    assert_eq!(types_of(&got), ["payment.succeeded", "delivery.succeeded"]);
    hanging.wait_for(4).await;
    assert!(
        hanging.max_in_flight() <= starsgate::seller_events::sender::MAX_IN_FLIGHT_PER_ENDPOINT,
        "at most {} requests in flight to one endpoint, saw {}",
        starsgate::seller_events::sender::MAX_IN_FLIGHT_PER_ENDPOINT,
        hanging.max_in_flight()
    );
    gw.stop().await;
    h.finish().await;
}

async fn a_kill_between_the_payment_and_its_event_loses_nothing(backend: Backend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(backend, &receiver.url, None).await;
    let mut first = h.spawn_process(Some("payment_recorded"));
    let (charge, _) = h.buy(GUIDES, ALICE, "premium-guide").await;
    let ledger = h.ledger().await;
    crate::crash::wait_for_exit(&mut first);
    assert!(
        receiver.received().is_empty(),
        "killed before any event was sent"
    );
    let mut second = h.spawn_process(None);
    let got = receiver.wait_for(2).await;
    assert_eq!(types_of(&got), ["payment.succeeded", "delivery.succeeded"]);
    assert!(
        got.iter()
            .all(|r| r.body["data"]["charge_id"] == charge.as_str())
    );
    eventually("the payment to be delivered", || async {
        status(&ledger, GUIDES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    let _ = second.kill();
    let _ = second.wait();
    h.finish().await;
}

async fn a_refund_is_reported_and_a_replay_sends_the_same_ids_again(backend: Backend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(backend, &receiver.url, None).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    let got = receiver.wait_for(3).await;
    assert_eq!(
        types_of(&got),
        [
            "payment.succeeded",
            "delivery.succeeded",
            "refund.succeeded"
        ]
    );
    assert_eq!(got[2].body["data"]["status"], "refunded");
    wait_until_all_sent(&h).await;
    let out = h
        .command()
        .args(["events", "replay", "--config"])
        .arg(h.dir.path())
        .args(["--bot", GUIDES, "--since", "2000-01-01"])
        .output()
        .expect("run starsgate events replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("3 event(s)"));
    let again = receiver.wait_for(6).await;
    let first: Vec<&str> = again[..3].iter().map(|r| r.id_header.as_str()).collect();
    let replayed: Vec<&str> = again[3..].iter().map(|r| r.id_header.as_str()).collect();
    assert_eq!(first, replayed, "a replay re-sends the same ids, in order");
    wait_until_all_sent(&h).await;
    let list = h
        .command()
        .args(["events", "list", "--json", "--status", "sent", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate events list");
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["type"], "refund.succeeded");
    gw.stop().await;
    h.finish().await;
}

async fn a_reload_moves_new_events_while_stored_ones_keep_their_destination(backend: Backend) {
    let old = Receiver::down(Answer::Status(200));
    let new = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(backend, &old.url, Some("[\"payment.succeeded\"]")).await;
    let gw = h.start().await;
    h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    let path = h.dir.path().join("bots").join("guides.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&old.url, &new.url);
    std::fs::write(&path, text).unwrap();
    let report = gw.reload().await;
    assert_eq!(report.changed, ["guides"], "{report}");
    h.buy(GUIDES, BOB, "premium-guide").await;
    let got = new.wait_for(1).await;
    assert_eq!(got[0].body["data"]["user_id"], BOB);
    let ledger = h.ledger().await;
    let events = ledger
        .seller_events(&SellerEventFilter::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].url, old.url,
        "the first event keeps its destination"
    );
    assert_eq!(events[0].status, SellerEventStatus::Pending);
    assert_eq!(events[1].url, new.url);
    gw.stop().await;
    h.finish().await;
}

async fn a_renewal_and_a_cancellation_are_reported_with_the_membership(backend: Backend) {
    use crate::subscriptions::{CLUB, DAY, MEMBER, club_bot, join};
    let receiver = Receiver::start(Answer::Status(200)).await;
    let mut h = Harness::new(backend).await;
    h.set_secret(SECRET_VAR, SECRET);
    h.add_bot(CLUB, &club_bot());
    add_events(
        &h,
        CLUB,
        &receiver.url,
        Some("[\"subscription.renewed\", \"subscription.cancelled\"]"),
    );
    let gw = h.start().await;
    let token = h.token(CLUB);
    let first = join(&h).await;
    h.sim.advance_time(30 * DAY + 60);
    h.wait_for_deliveries(CLUB, MEMBER, 2).await;
    let renewal = h.sim.subscriptions(&token)[0].charge_ids[1].clone();
    let got = receiver.wait_for(1).await;
    assert_eq!(types_of(&got), ["subscription.renewed"]);
    let membership = &got[0].body["data"]["membership"];
    assert_eq!(membership["first_charge_id"], first.as_str());
    assert_eq!(membership["last_charge_id"], renewal.as_str());
    assert_eq!(membership["state"], "active");
    assert_eq!(got[0].body["data"]["charge_id"], renewal.as_str());
    h.sim.cancel_subscription_as_buyer(&token, &first).unwrap();
    let got = receiver.wait_for(2).await;
    assert_eq!(
        types_of(&got),
        ["subscription.renewed", "subscription.cancelled"]
    );
    assert_eq!(got[1].body["data"]["membership"]["state"], "cancelled");
    assert!(got.iter().all(|r| r.verified.is_ok()));
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_renewal_and_a_cancellation_are_reported_with_the_membership,
    a_sale_sends_signed_events_in_order_that_the_seller_can_verify,
    an_endpoint_that_fails_once_gets_the_event_again_and_then_no_more,
    an_endpoint_that_was_down_gets_everything_once_it_returns,
    a_hanging_endpoint_does_not_hold_back_sales_or_other_bots,
    a_kill_between_the_payment_and_its_event_loses_nothing,
    a_refund_is_reported_and_a_replay_sends_the_same_ids_again,
    a_reload_moves_new_events_while_stored_ones_keep_their_destination,
);

/// Two gateways on one PostgreSQL ledger: each event reaches the receiver, and no event is sent
/// by both (each is claimed before it is sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_ledger_send_each_event_once() {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let h = harness_sending_to(Backend::Postgres, &receiver.url, None).await;
    let mut one = h.spawn_process(None);
    let mut two = h.spawn_process(None);
    for buyer in 0..5 {
        h.buy(GUIDES, ALICE + buyer, "premium-guide").await;
        h.buy(GAMES, BOB + 100 + buyer, "starter-pack").await;
    }
    for buyer in 0..5 {
        h.wait_for_deliveries(GUIDES, ALICE + buyer, 1).await;
    }
    let got = receiver.wait_for(10).await;
    wait_until_all_sent(&h).await;
    let got_after = receiver.received();
    let mut ids: Vec<&str> = got_after.iter().map(|r| r.id_header.as_str()).collect();
    ids.sort_unstable();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total, "no event sent twice");
    assert_eq!(
        total,
        10,
        "guides' ten events, once each: {:?}",
        types_of(&got)
    );
    for child in [&mut one, &mut two] {
        let _ = child.kill();
        let _ = child.wait();
    }
    h.finish().await;
}

/// `starsgate check` names each wrong `[events]` key as `file: key: reason`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_plain_http_a_short_secret_and_unknown_event_types() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.set_secret(SECRET_VAR, "too-short");
    add_events(
        &h,
        "guides",
        "http://shop.example.com/hook",
        Some("[\"payment.paid\"]"),
    );
    let out = h
        .command()
        .args(["check", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate check");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "guides.toml: events.url: must be https (plain http only for a loopback address)",
        "guides.toml: events.secret_env: $GUIDES_EVENTS_SECRET must hold at least 16 characters",
        "guides.toml: events.types: unknown event type \"payment.paid\"",
    ] {
        assert!(stderr.contains(expected), "{expected}\nin:\n{stderr}");
    }
    assert!(
        !stderr.contains("too-short"),
        "the secret is never printed: {stderr}"
    );
    h.finish().await;
}
