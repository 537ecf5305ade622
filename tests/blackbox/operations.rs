//! Operating the gateway (issue 21): logs fit for files and log collectors, commands that need
//! only what they read, `starsgate init`, shell completions.

use std::process::{Child, Stdio};

use crate::helpers::*;
use crate::on_both_ledgers;

const OLGA: i64 = 9101;

/// A `starsgate run` process killed when the test ends, however it ends.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the real binary with stderr going to `log`, plus `env`.
fn run_logging_to(h: &Harness, log: &std::path::Path, env: &[(&str, &str)]) -> Gateway {
    let file = std::fs::File::create(log).expect("create the log file");
    let mut cmd = h.command();
    cmd.arg("run").arg("--config").arg(h.dir.path());
    cmd.env("STARSGATE_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null()).stderr(file);
    Gateway(cmd.spawn().expect("spawn starsgate run"))
}

async fn a_log_written_to_a_file_has_no_escape_sequences(backend: Backend) {
    let h = Harness::new(backend).await;
    let log = h.dir.path().join("gateway.log");
    let gw = run_logging_to(&h, &log, &[]);
    h.buy(GUIDES, OLGA, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, OLGA, 1).await;
    drop(gw);
    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(
        text.contains("Recorded a payment."),
        "the log has the payment: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "a log written to a file has no ANSI escape sequences: {text:?}"
    );
    h.finish().await;
}

async fn json_logs_are_one_object_per_line_with_the_span_fields(backend: Backend) {
    let h = Harness::new(backend).await;
    let log = h.dir.path().join("gateway.log");
    let gw = run_logging_to(&h, &log, &[("STARSGATE_LOG_FORMAT", "json")]);
    let (charge, update_id) = h.buy(GUIDES, OLGA, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, OLGA, 1).await;
    let ledger = h.ledger().await;
    eventually("the delivery to be recorded", || async {
        status(&ledger, GUIDES, &charge).await == Some(starsgate::ledger::PaymentStatus::Delivered)
    })
    .await;
    drop(gw);
    let text = std::fs::read_to_string(&log).expect("read the log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect();
    assert!(
        lines.iter().all(|l| l["level"].is_string()
            && l["message"].is_string()
            && l["timestamp"].is_string())
    );
    let recorded = lines
        .iter()
        .find(|l| l["message"] == "Recorded a payment.")
        .unwrap_or_else(|| panic!("no payment line in {text}"));
    assert_eq!(recorded["bot"], GUIDES, "{recorded}");
    assert_eq!(recorded["update_id"], update_id, "{recorded}");
    assert_eq!(recorded["charge_id"], charge.as_str(), "{recorded}");
    let delivered = lines
        .iter()
        .find(|l| l["message"] == "Delivered a paid order.")
        .unwrap_or_else(|| panic!("no delivery line in {text}"));
    assert_eq!(delivered["charge_id"], charge.as_str(), "{delivered}");
    assert_eq!(delivered["bot"], GUIDES, "{delivered}");
    h.finish().await;
}

async fn the_log_format_can_be_chosen_in_gateway_toml(backend: Backend) {
    let h = Harness::new(backend).await;
    h.set_gateway("log", "format", "\"json\"");
    let log = h.dir.path().join("gateway.log");
    let gw = run_logging_to(&h, &log, &[]);
    h.say(GUIDES, OLGA, "/terms");
    h.wait_for(GUIDES, OLGA, "the terms", |m| !m.is_empty())
        .await;
    eventually("the log to say the stores are loaded", || async {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Loaded every store"))
    })
    .await;
    drop(gw);
    let text = std::fs::read_to_string(&log).expect("read the log");
    for line in text.lines() {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("[log] format = \"json\" writes JSON lines ({e}): {line}"));
        assert!(parsed["message"].is_string(), "{line}");
    }
    h.finish().await;
}

on_both_ledgers!(
    a_log_written_to_a_file_has_no_escape_sequences,
    json_logs_are_one_object_per_line_with_the_span_fields,
    the_log_format_can_be_chosen_in_gateway_toml,
);

/// The binary with an empty environment: no token, no webhook secret, nothing of the test's.
fn bare_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(starsgate_binary());
    cmd.env_clear();
    cmd
}

fn output(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("run starsgate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ledger_export_and_stats_need_no_secret(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.use_webhooks();
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, OLGA, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, OLGA, 1).await;
    gw.stop().await;
    let config = h.dir.path().to_str().expect("a UTF-8 path").to_owned();
    let (ok, stdout, stderr) = output(
        bare_command()
            .args(["ledger", "export", "--format", "json", "--config"])
            .arg(&config),
    );
    assert!(ok, "ledger export without secrets: {stderr}");
    assert!(stdout.contains(&charge), "{stdout}");
    let (ok, stdout, stderr) = output(
        bare_command()
            .args(["stats", "--config"])
            .arg(&config)
            .current_dir(h.dir.path()),
    );
    assert!(ok, "stats without secrets: {stderr}");
    assert!(stdout.contains("premium-guide"), "{stdout}");
    // STARSGATE_CONFIG stands in for --config.
    let (ok, stdout, stderr) = output(
        bare_command()
            .args(["ledger", "export"])
            .env("STARSGATE_CONFIG", &config),
    );
    assert!(ok, "ledger export with STARSGATE_CONFIG: {stderr}");
    assert!(stdout.contains(&charge), "{stdout}");
    h.finish().await;
}

on_both_ledgers!(ledger_export_and_stats_need_no_secret);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_without_secrets_validates_the_files_and_says_what_it_could_not_check() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.use_webhooks();
    let run = |args: &[&str]| {
        output(
            bare_command()
                .args(args)
                .env("STARSGATE_CONFIG", h.dir.path())
                .current_dir(h.dir.path()),
        )
    };
    let (ok, _, stderr) = run(&["check"]);
    assert!(!ok, "check needs the secrets unless told otherwise");
    assert!(stderr.contains("GUIDES_BOT_TOKEN is not set"), "{stderr}");
    let (ok, stdout, stderr) = run(&["check", "--without-secrets"]);
    assert!(ok, "check --without-secrets: {stderr}");
    assert!(
        stdout.contains("not checked: $GUIDES_BOT_TOKEN is not set"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not checked: $STARSGATE_WEBHOOK_SECRET is not set"),
        "{stdout}"
    );
    assert!(stdout.contains("OK (without the secrets"), "{stdout}");
    // The files themselves are still checked.
    h.set_bot_key(GUIDES, "greting", "\"Hi\"");
    let (ok, _, stderr) = run(&["check", "--without-secrets"]);
    assert!(!ok, "a misspelt key fails without secrets too");
    assert!(stderr.contains("greting: unknown key"), "{stderr}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_configuration_that_check_accepts_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let project = dir.path().join("my-store");
    let (ok, stdout, stderr) = output(bare_command().arg("init").arg(&project));
    assert!(ok, "init: {stderr}");
    for step in ["SHOP_BOT_TOKEN", "starsgate check", "starsgate run"] {
        assert!(
            stdout.contains(step),
            "the next steps name {step}: {stdout}"
        );
    }
    let gitignore = std::fs::read_to_string(project.join(".gitignore")).expect(".gitignore");
    assert!(gitignore.lines().any(|l| l == "data/"), "{gitignore}");
    let bot = std::fs::read_to_string(project.join("config/bots/shop.toml")).expect("bot file");
    assert!(
        bot.contains("# plugin = "),
        "optional keys shown commented out: {bot}"
    );
    let (ok, stdout, stderr) = output(
        bare_command()
            .arg("check")
            .env("SHOP_BOT_TOKEN", "123456:AAtest-token")
            .current_dir(&project),
    );
    assert!(ok, "check of a fresh init: {stderr}");
    assert!(stdout.contains("OK: 1 bot(s), 1 product(s)"), "{stdout}");
    let before = std::fs::read_to_string(project.join("config/gateway.toml")).expect("gateway");
    let (ok, _, stderr) = output(bare_command().arg("init").arg(&project));
    assert!(!ok, "a second init must refuse");
    assert!(stderr.contains("already exists"), "{stderr}");
    let after = std::fs::read_to_string(project.join("config/gateway.toml")).expect("gateway");
    assert_eq!(before, after, "nothing was overwritten");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, stdout, stderr) = output(bare_command().args(["completions", shell]));
        assert!(ok, "completions {shell}: {stderr}");
        for word in ["starsgate", "export", "without-secrets"] {
            assert!(stdout.contains(word), "{shell} completions mention {word}");
        }
    }
    let (ok, _, _) = output(bare_command().args(["completions", "tcsh"]));
    assert!(!ok, "an unknown shell is refused");
}
