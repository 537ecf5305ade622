//! The dashboard in a real browser: Debian's headless Chromium, driven through chromedriver with
//! fantoccini, opens the page `starsgate demo --serve` prints after the demo's purchases, logs
//! in, waits for the chart to be drawn and checks the totals against the ledger's stats. A
//! screenshot is kept under the test's output directory.
//!
//! Without chromium and chromedriver on the PATH the test says so loudly and passes, except in CI
//! (`CI` set), where `.ci/run` installs them and a missing browser is a failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN: &str = "browser-test-admin-token-0123456789";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A child process killed when dropped, so a failing assertion leaves nothing running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // SIGTERM first, so the demo removes its temporary directory.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `starsgate demo --serve` and returns it with the dashboard's address it printed.
fn demo() -> (Reaped, String) {
    let mut child = Command::new(starsgate_binary())
        .args(["demo", "--serve", "--admin-listen", "127.0.0.1:0"])
        .env("STARSGATE_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start starsgate demo --serve");
    let stdout = child.stdout.take().expect("the demo's output");
    let child = Reaped(child);
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next() {
        let line = line.expect("read the demo's output");
        if let Some(url) = line.strip_prefix("The seller's dashboard: ") {
            // Keep reading what the demo prints after the address (the same message goes on):
            // closing the pipe now would fail its next write and stop it.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, url.trim_end_matches('/').to_owned());
        }
        seen.push(line);
    }
    panic!(
        "the demo never printed the dashboard's address:\n{}",
        seen.join("\n")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_logs_in_and_sees_the_chart_and_the_ledger_s_totals_after_the_demo() {
    if !(on_path("chromium") && on_path("chromedriver")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and chromedriver (.ci/run installs them)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: the real-browser dashboard test needs Debian's `chromium` and \
             `chromium-driver` (apt-get install -y chromium chromium-driver) !!!!!!!!\n"
        );
        return;
    }
    let (_demo, base) = demo();
    let port = free_port();
    let driver = Reaped(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    eventually("chromedriver to listen", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1400"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .expect("a chromium session");

    client.goto(&format!("{base}/")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        "/login",
        "without a session the page sends us to log in"
    );
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Css("#login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let chart = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#chart[data-drawn] .uplot canvas"))
        .await
        .expect("uPlot draws the chart from /admin/series");
    assert!(chart.attr("width").await.unwrap().is_some());

    let stats: Value = reqwest::Client::new()
        .get(format!("{base}/admin/stats"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stats = stats["stats"].as_array().expect("stats").clone();
    let net: i64 = stats
        .iter()
        .map(|s| s["net_revenue"].as_i64().unwrap())
        .sum();
    let paid: i64 = stats.iter().map(|s| s["payments"].as_i64().unwrap()).sum();
    let refunds: i64 = stats.iter().map(|s| s["refunded"].as_i64().unwrap()).sum();
    assert!(
        paid > 0 && refunds > 0,
        "the demo sold and refunded: {stats:?}"
    );
    let shown = |id: &'static str| {
        let client = client.clone();
        async move {
            let text = client
                .find(Locator::Id(id))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.trim().parse::<i64>().unwrap_or(-1)
        }
    };
    assert_eq!(
        shown("net-stars").await,
        net,
        "net Stars as the ledger's stats"
    );
    assert_eq!(shown("paid-orders").await, paid);
    assert_eq!(shown("refunds").await, refunds);

    let png = client.screenshot().await.expect("a screenshot");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("overview.png");
    std::fs::write(&file, &png).unwrap();
    eprintln!("screenshot: {}", file.display());
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    client.close().await.unwrap();
    drop(driver);
}
