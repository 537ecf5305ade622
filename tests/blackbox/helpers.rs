//! The harness: a simulator, a config directory, a fresh ledger (a SQLite file, or a new
//! PostgreSQL database per test so tests run in parallel), and the gateway, either in-process
//! (`start`) or as the real binary (`spawn_process`) for kill -9 tests.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Connection;
use starsgate::App;
use starsgate::app::Running;
use starsgate::config::Config;
use starsgate::domain::{BotId, ChargeId};
use starsgate::ledger::{Ledger, Payment, PaymentStatus};
use starsgate_sim::{InvoiceRef, PayOutcome, SentMessage, SimHandle, Simulator};

pub const WAIT: Duration = Duration::from_secs(15);

pub const GUIDES: &str = "guides";
pub const GAMES: &str = "games";
pub const GUIDES_ADMIN: i64 = 111111111;

/// A bot id the test names (the ledger takes ids, parsed once, not text).
pub fn bot_id(id: &str) -> BotId {
    BotId::parse(id).expect("the tests name bots by valid ids")
}

/// A charge id the simulator handed out or the test names.
pub fn charge_id_of(id: &str) -> ChargeId {
    ChargeId::parse(id).expect("the simulator's charge ids are valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per ledger backend for a scenario `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_ledgers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// A ledger for one test.
pub struct TestLedger {
    pub url: String,
    pg: Option<(String, String)>,
}

impl TestLedger {
    async fn fresh(backend: Backend, dir: &Path) -> Self {
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.join("ledger.db").display()),
                pg: None,
            },
            Backend::Postgres => {
                let admin = std::env::var("STARSGATE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
                let name = format!("sg_test_{}", rand::random::<u64>());
                let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL tests need a server: set STARSGATE_TEST_POSTGRES_URL (tried {admin}): {e}")
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create a test database");
                let mut url = url::Url::parse(&admin).expect("a postgres URL");
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    pg: Some((admin, name)),
                }
            }
        }
    }

    async fn drop_database(&self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = sqlx::postgres::PgConnection::connect(admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

pub struct Harness {
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
    pub ledger: TestLedger,
    pub backend: Backend,
    tokens: HashMap<String, String>,
    next_bot_id: u64,
}

impl Harness {
    /// A simulator and the example deployment (`guides` and `games`) on a fresh ledger.
    pub async fn new(backend: Backend) -> Self {
        if std::env::var("STARSGATE_TEST_LOG").is_ok() {
            starsgate::telemetry::init("debug");
        }
        let sim = Simulator::start(([127, 0, 0, 1], 0).into())
            .await
            .expect("start the simulator");
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = TestLedger::fresh(backend, dir.path()).await;
        starsgate::demo::write_example_config(dir.path(), &sim.api_url(), &ledger.url)
            .expect("write config");
        let mut h = Self {
            sim,
            dir,
            ledger,
            backend,
            tokens: HashMap::new(),
            next_bot_id: 800_000,
        };
        h.register_token("GUIDES_BOT_TOKEN", GUIDES);
        h.register_token("GAMES_BOT_TOKEN", GAMES);
        h
    }

    fn register_token(&mut self, var: &str, bot: &str) {
        self.next_bot_id += 1;
        let token = format!("{}:test-{bot}-token", self.next_bot_id);
        self.sim
            .add_bot(&token, &format!("{bot}_bot").replace('-', "_"));
        self.tokens.insert(var.to_owned(), token);
    }

    /// Adds a store `bots/<id>.toml`; its `token_env` must be `<ID>_TOKEN` (upper case, `_`).
    pub fn add_bot(&mut self, id: &str, toml: &str) {
        std::fs::write(
            self.dir.path().join("bots").join(format!("{id}.toml")),
            toml,
        )
        .expect("write bot file");
        self.register_token(
            &format!("{}_TOKEN", id.to_uppercase().replace('-', "_")),
            id,
        );
    }

    /// Sets a key in `gateway.toml` (replacing it if the section has it), e.g.
    /// `set_gateway("ledger", "lease_secs", "2")`.
    pub fn set_gateway(&self, section: &str, key: &str, value: &str) {
        let path = self.dir.path().join("gateway.toml");
        let text = std::fs::read_to_string(&path).expect("gateway.toml");
        let header = format!("[{section}]");
        let mut out = Vec::new();
        let (mut in_section, mut done) = (false, false);
        for line in text.lines() {
            if line.starts_with('[') {
                if in_section && !done {
                    out.push(format!("{key} = {value}"));
                    done = true;
                }
                in_section = line.trim() == header;
            } else if in_section && line.split('=').next().map(str::trim) == Some(key) {
                out.push(format!("{key} = {value}"));
                done = true;
                continue;
            }
            out.push(line.to_owned());
        }
        if in_section && !done {
            out.push(format!("{key} = {value}"));
            done = true;
        }
        if !done {
            out.push(header);
            out.push(format!("{key} = {value}"));
        }
        std::fs::write(&path, out.join("\n") + "\n").expect("write gateway.toml");
    }

    /// Makes a secret available under an environment variable name (for this config only).
    pub fn set_secret(&mut self, var: &str, value: &str) {
        self.tokens.insert(var.to_owned(), value.to_owned());
    }

    /// Switches the deployment to webhook mode on a free loopback port; returns the base URL.
    pub fn use_webhooks(&mut self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        self.set_gateway("telegram", "mode", "\"webhook\"");
        self.set_gateway("webhook", "listen", &format!("\"127.0.0.1:{port}\""));
        self.set_gateway("webhook", "public_url", &format!("\"{base}\""));
        self.set_secret("STARSGATE_WEBHOOK_SECRET", "test-master-secret-0123456789");
        base
    }

    /// Replaces a line in a bot file (or appends it before the first product).
    pub fn set_bot_key(&self, bot: &str, key: &str, value: &str) {
        let path = self.dir.path().join("bots").join(format!("{bot}.toml"));
        let text = std::fs::read_to_string(&path).expect("bot file");
        let text = text.replacen("[[product]]", &format!("{key} = {value}\n\n[[product]]"), 1);
        std::fs::write(&path, text).expect("write bot file");
    }

    /// The token of a bot by its id.
    pub fn token(&self, bot: &str) -> String {
        let var = format!("{}_BOT_TOKEN", bot.to_uppercase());
        let alt = format!("{}_TOKEN", bot.to_uppercase().replace('-', "_"));
        self.tokens
            .get(&var)
            .or_else(|| self.tokens.get(&alt))
            .cloned()
            .unwrap_or_else(|| panic!("no token for bot {bot}"))
    }

    pub fn config(&self) -> Config {
        Config::load_with_secrets(self.dir.path(), &|name| self.tokens.get(name).cloned())
            .unwrap_or_else(|p| panic!("test config invalid:\n{p}"))
    }

    /// Starts the gateway in this process.
    pub async fn start(&self) -> Running {
        let tokens = self.tokens.clone();
        let secrets: starsgate::app::SecretSource =
            std::sync::Arc::new(move |name: &str| tokens.get(name).cloned());
        App::build_with_secrets(self.config(), secrets)
            .await
            .expect("build the app")
            .start()
            .await
            .expect("start the app")
    }

    /// A separate connection to the ledger, for assertions.
    pub async fn ledger(&self) -> Ledger {
        Ledger::connect(&starsgate::config::LedgerUrl::new(&self.ledger.url))
            .await
            .expect("connect to the ledger")
    }

    /// Starts the real `starsgate run` binary on this config.
    pub fn spawn_process(&self, crash_at: Option<&str>) -> Child {
        self.spawn_process_with(crash_at, &[])
    }

    pub fn spawn_process_with(&self, crash_at: Option<&str>, env: &[(&str, &str)]) -> Child {
        let mut cmd = Command::new(starsgate_binary());
        cmd.arg("run").arg("--config").arg(self.dir.path());
        cmd.env("STARSGATE_LOG", "info");
        for (var, token) in &self.tokens {
            cmd.env(var, token);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        match crash_at {
            Some(point) => cmd.env("STARSGATE_CRASH_AT", point),
            None => cmd.env_remove("STARSGATE_CRASH_AT"),
        };
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd.spawn().expect("spawn the starsgate binary")
    }

    /// The real binary with this deployment's secrets in its environment and nothing else of
    /// starsgate's (for commands other than `run`, and `run` with its output kept).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(starsgate_binary());
        for (var, token) in &self.tokens {
            cmd.env(var, token);
        }
        for var in [
            "STARSGATE_CRASH_AT",
            "STARSGATE_CONFIG",
            "STARSGATE_LOG_FORMAT",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub async fn finish(self) {
        self.ledger.drop_database().await;
        self.sim.shutdown().await;
    }

    // ---- playing a buyer ----

    pub fn say(&self, bot: &str, user: i64, text: &str) -> i64 {
        self.sim.send_text(&self.token(bot), user, text)
    }

    /// Waits until the bot's messages to `chat` satisfy `pred`; panics with what it saw otherwise.
    pub async fn wait_for(
        &self,
        bot: &str,
        chat: i64,
        what: &str,
        pred: impl Fn(&[SentMessage]) -> bool,
    ) -> Vec<SentMessage> {
        let msgs = self
            .sim
            .wait_for_messages(&self.token(bot), chat, &pred, WAIT)
            .await;
        assert!(
            pred(&msgs),
            "waited {WAIT:?} for {what}; the bot sent: {msgs:#?}"
        );
        msgs
    }

    pub async fn wait_for_invoice(&self, bot: &str, user: i64, n: usize) -> Vec<SentMessage> {
        self.wait_for(bot, user, "an invoice", |m| {
            m.iter().filter(|m| m.invoice.is_some()).count() >= n
        })
        .await
    }

    pub async fn pay_latest(&self, bot: &str, user: i64) -> PayOutcome {
        self.sim
            .pay(&self.token(bot), user, &InvoiceRef::Latest)
            .await
            .expect("pay")
    }

    /// Buys `product` with `/buy` and pays; returns the charge id and the update id of the
    /// successful_payment.
    pub async fn buy(&self, bot: &str, user: i64, product: &str) -> (String, i64) {
        let before = self
            .sim
            .messages(&self.token(bot), user)
            .iter()
            .filter(|m| m.invoice.is_some())
            .count();
        self.say(bot, user, &format!("/buy {product}"));
        self.wait_for_invoice(bot, user, before + 1).await;
        match self.pay_latest(bot, user).await {
            PayOutcome::Paid {
                charge_id,
                update_id,
            } => (charge_id, update_id),
            other => panic!("buying {product} from {bot} did not go through: {other:?}"),
        }
    }

    pub fn deliveries(&self, bot: &str, user: i64) -> Vec<String> {
        deliveries(&self.sim.messages(&self.token(bot), user))
    }

    pub async fn wait_for_deliveries(&self, bot: &str, user: i64, n: usize) -> Vec<String> {
        let msgs = self
            .wait_for(bot, user, "a delivery", |m| deliveries(m).len() >= n)
            .await;
        deliveries(&msgs)
    }
}

/// Delivery messages start with the outbox's thank-you line.
pub fn deliveries(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.text.clone())
        .filter(|t| t.starts_with("Thank you for your purchase"))
        .collect()
}

impl Harness {
    /// Waits until nothing more can happen on its own: Telegram holds no update for any bot, and
    /// the ledger holds no unprocessed update, no paid payment without its delivery, and no
    /// delivery due. Counting after this, rather than after a fixed pause, cannot miss a late
    /// duplicate on a slow machine nor wait longer than the work takes.
    pub async fn settle(&self) {
        let ledger = self.ledger().await;
        eventually("the gateway to settle", || async {
            if self
                .tokens
                .values()
                .any(|t| self.sim.pending_updates(t) > 0)
            {
                return false;
            }
            let (Ok(updates), Ok(due), Ok(payments)) = (
                ledger.bots_with_pending_updates().await,
                ledger.bots_with_due_deliveries().await,
                ledger.payments(None).await,
            ) else {
                return false;
            };
            if !updates.is_empty() || !due.is_empty() {
                return false;
            }
            for p in payments.iter().filter(|p| p.status == PaymentStatus::Paid) {
                if !matches!(
                    ledger.delivery_content(&p.bot, &p.charge_id).await,
                    Ok(Some(_))
                ) {
                    return false;
                }
            }
            true
        })
        .await;
    }
}

impl Harness {
    /// [`Harness::settle`], and then waits until every expiry sweep of `bot`'s memberships that
    /// could act on the gateway's clock as it is now has finished: sweeps run when the clock
    /// moves and leave no trace when nothing lapses, so a fixed pause could count a membership's
    /// hooks before a late (duplicate or wrongful) revoke. It moves the clock 1 ms and waits for
    /// a sweep to start at or after that time (that sweep saw every earlier clock move), then
    /// does it once more (a sweep starts only after the previous one has finished, so that one
    /// has run its revoke hooks and told its buyers), and settles again for what they sent.
    pub async fn settle_memberships(&self, gw: &Running, bot: &str) {
        self.settle().await;
        for _ in 0..2 {
            // Read before the move: a sweep woken by it may start before a read after it.
            let moved = gw.clock().now_ms() + 1;
            gw.clock().advance(Duration::from_millis(1));
            eventually("an expiry sweep after the clock moved", || async {
                gw.ledger()
                    .last_expiry_sweep(bot)
                    .is_some_and(|at| at >= moved)
            })
            .await;
        }
        self.settle().await;
    }
}

/// Polls `check` until it is true or `WAIT` passes.
pub async fn eventually<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("waited {WAIT:?} for {what}");
}

pub async fn payment(ledger: &Ledger, bot: &str, charge: &str) -> Payment {
    ledger
        .payment(&bot_id(bot), &charge_id_of(charge))
        .await
        .expect("read the ledger")
        .unwrap_or_else(|| panic!("no payment {charge} in the ledger"))
}

pub async fn wait_for_outcome(ledger: &Ledger, bot: &str, update_id: i64) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(o)) = ledger.update_outcome(&bot_id(bot), update_id).await {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("update {update_id} of {bot} was not processed within {WAIT:?}");
}

/// Calls the simulator's Bot API directly, as another client of the same bot would.
pub async fn bot_api(
    sim: &SimHandle,
    token: &str,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let url = format!("{}bot{token}/{method}", sim.api_url());
    reqwest::Client::new()
        .post(url)
        .json(&params)
        .send()
        .await
        .expect("call the simulator")
        .json()
        .await
        .expect("a JSON answer")
}

/// The `starsgate` binary next to this test binary (cargo builds it for `gateway/tests`).
pub fn starsgate_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("starsgate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p starsgate` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// A payment's status, or `None` while the ledger has not recorded it yet.
pub async fn status(
    ledger: &Ledger,
    bot: &str,
    charge: &str,
) -> Option<starsgate::ledger::PaymentStatus> {
    ledger
        .payment(&bot_id(bot), &charge_id_of(charge))
        .await
        .ok()
        .flatten()
        .map(|p| p.status)
}

/// Holds a write lock on the inbox from outside, as a stalled disk or a busy database would.
pub async fn hold_inbox_lock(h: &Harness) -> Box<dyn std::any::Any + Send> {
    match h.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&h.ledger.url)
                .await
                .unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut conn)
                .await
                .unwrap();
            Box::new(conn)
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&h.ledger.url)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE updates IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            Box::new(conn)
        }
    }
}
