//! The `starsgate` command line (the README's "Running your stores"). Every failure ends as one sentence on stderr naming the
//! file, key or argument at fault, and exit status 1; nothing a user types can cause a panic.

mod check;
mod events;
mod init;
mod ledger;
mod paid_media;
mod plugin_new;
mod plugin_run;
mod plugin_test;
mod reconcile;
mod refund;
mod run;
#[cfg(feature = "sim")]
mod sim;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::domain::{BotId, ChargeId};

#[derive(Debug, Parser)]
#[command(
    name = "starsgate",
    version,
    about = "Many Telegram Stars stores in one process, one ledger, sandboxed plugins."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every bot in the config directory until SIGINT/SIGTERM.
    Run {
        #[command(flatten)]
        config: ConfigDir,
    },
    /// Validate the whole configuration and load every plugin; exit 1 on any problem.
    Check {
        #[command(flatten)]
        config: ConfigDir,
        /// Validate without the secrets (bot tokens, webhook secret) present, e.g. on a laptop or
        /// in CI: secrets that are set are still checked; the rest is listed as not checked.
        #[arg(long)]
        without_secrets: bool,
    },
    /// Re-read the configuration in the running gateway (SIGHUP); prints any problems first.
    Reload {
        #[command(flatten)]
        config: ConfigDir,
    },
    /// Write a working configuration to start from: DIR/config/gateway.toml, one store in
    /// DIR/config/bots/, and a .gitignore for DIR/data/. Refuses to overwrite anything.
    Init {
        /// The project directory (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print a shell completion script, e.g. `starsgate completions bash > /etc/bash_completion.d/starsgate`.
    Completions { shell: clap_complete::Shell },
    #[cfg(feature = "sim")]
    /// Offline demo: the built-in Telegram simulator, the example stores, buyers playing through
    /// purchase, a repeated payment, a refused checkout and a refund.
    Demo {
        /// Keep the simulator and the gateway running after the scenes, with the seller's
        /// dashboard on `--admin-listen`, until Ctrl-C.
        #[arg(long)]
        serve: bool,
        /// Where the dashboard listens with `--serve`.
        #[arg(long, default_value = "127.0.0.1:9090", requires = "serve")]
        admin_listen: std::net::SocketAddr,
    },
    #[cfg(feature = "sim")]
    /// Load benchmark: the simulator and a gateway in this process, many bots, buyers through the
    /// whole purchase; prints throughput and latency percentiles.
    Bench {
        #[arg(long, default_value_t = 100)]
        bots: usize,
        #[arg(long, default_value_t = 5000)]
        orders: usize,
        /// Buyers in flight at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// Poll instead of webhooks.
        #[arg(long)]
        polling: bool,
        /// A ledger URL (default: a fresh SQLite file).
        #[arg(long)]
        ledger: Option<String>,
        /// SQLite synchronous mode: full or normal.
        #[arg(long, default_value = "full")]
        synchronous: String,
        /// Instead: this many idle bots; report readiness time and memory.
        #[arg(long)]
        idle: Option<usize>,
    },
    #[cfg(feature = "sim")]
    /// Run the Telegram simulator alone, for trying stores and plugins by hand.
    Sim {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// Register a bot: TOKEN or TOKEN=USERNAME (repeatable).
        #[arg(long = "bot")]
        bots: Vec<String>,
    },
    /// Work with plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Refund one payment (refundStarPayment) and record it.
    Refund {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long, value_parser = BotId::parse)]
        bot: BotId,
        #[arg(long, value_parser = ChargeId::parse)]
        charge: ChargeId,
    },
    /// Compare the ledger with getStarTransactions and repair what is missing.
    Reconcile {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long)]
        bot: Option<String>,
    },
    /// Webhook state at Telegram.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Read the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Seller events (`[events]` webhooks) in the ledger.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Paid media posts: photos and videos buyers unlock for Stars, with no invoice.
    PaidMedia {
        #[command(subcommand)]
        command: paid_media::PaidMediaCommand,
    },
    /// Revenue and counts per bot and product.
    Stats {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long, value_parser = BotId::parse)]
        bot: Option<BotId>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Write a standalone plugin project NAME/ (code, fixtures, README, the SDK in NAME/sdk and a
    /// Cargo.lock) that builds anywhere: see the README's "Write a plugin".
    New {
        /// The plugin's name: lower-case letters, digits and -, e.g. course-seat.
        name: String,
        /// Also write code and a fixture for this hook (pre-checkout and deliver are always
        /// written); repeatable.
        #[arg(long = "hook", value_enum)]
        hooks: Vec<plugin_new::NewHook>,
        /// Where to create NAME/.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Call one hook of a plugin under production limits and print the output, fuel, memory
    /// and logs (--json: one object); exit 1 if the call fails.
    Run(plugin_run::RunArgs),
    /// Re-run a recorded delivery from the ledger (same order, config snapshot, facts, seed)
    /// against the pinned plugin and optionally a new build; show both beside what was stored.
    Replay {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long)]
        bot: String,
        /// The payment whose delivery to replay.
        #[arg(
            long,
            required_unless_present = "order",
            conflicts_with = "order",
            value_parser = ChargeId::parse
        )]
        charge: Option<ChargeId>,
        /// Or the order (invoice payload): its latest payment's delivery is replayed.
        #[arg(long)]
        order: Option<String>,
        /// A new build to run on the same input.
        #[arg(long)]
        plugin: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin against fixtures under production limits; exit 1 on a mismatch or trap.
    Test {
        /// The plugin component (.wasm).
        plugin: PathBuf,
        /// Fixture files (JSON), see the README's "Write a plugin".
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// List stored events, oldest first.
    List {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long)]
        bot: Option<String>,
        /// pending, failed or sent.
        #[arg(long)]
        status: Option<String>,
        /// Only events written on or after this UTC date (YYYY-MM-DD) or time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send a bot's events again (same ids, bodies and destinations), sent or failed alike.
    Replay {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long, value_parser = BotId::parse)]
        bot: BotId,
        /// Events written on or after this UTC date (YYYY-MM-DD) or time (RFC 3339).
        #[arg(long)]
        since: String,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// getWebhookInfo per bot: URL, pending updates, last error.
    Status {
        #[command(flatten)]
        config: ConfigDir,
    },
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// A bot's event history, oldest first, with what plugin hooks did (outcome, log lines).
    Events {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long, value_parser = BotId::parse)]
        bot: BotId,
        #[arg(long, value_parser = ChargeId::parse)]
        charge: Option<ChargeId>,
        #[arg(long)]
        order: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write payments to stdout, one record each (fields: see "Running your stores" in the README).
    Export {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long, value_parser = BotId::parse)]
        bot: Option<BotId>,
        /// Only payments on or after this UTC date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
    },
}

/// `--config DIR`, else `$STARSGATE_CONFIG`, else `config`.
#[derive(Debug, clap::Args)]
struct ConfigDir {
    /// The configuration directory (gateway.toml and bots/).
    #[arg(
        long = "config",
        value_name = "DIR",
        env = "STARSGATE_CONFIG",
        default_value = "config",
        value_parser = any_path()
    )]
    config: PathBuf,
}

impl std::ops::Deref for ConfigDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.config
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Json,
}

/// `--config DIR` exactly as given. An empty value is refused by [`dispatch`] as one sentence
/// (clap's own check would print its usage text and exit 2).
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

impl Command {
    fn config_dir(&self) -> Option<&std::path::Path> {
        match self {
            Command::Run { config }
            | Command::Check { config, .. }
            | Command::Reload { config }
            | Command::Refund { config, .. }
            | Command::Reconcile { config, .. }
            | Command::Stats { config, .. }
            | Command::Events {
                command: EventsCommand::List { config, .. } | EventsCommand::Replay { config, .. },
            }
            | Command::Webhook {
                command: WebhookCommand::Status { config },
            }
            | Command::Ledger {
                command: LedgerCommand::Export { config, .. },
            }
            | Command::Ledger {
                command: LedgerCommand::Events { config, .. },
            }
            | Command::Plugin {
                command: PluginCommand::Replay { config, .. },
            } => Some(&config.config),
            Command::PaidMedia { command } => Some(command.config_dir()),
            _ => None,
        }
    }
}

/// A command's failure: printed as one sentence.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starsgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            // Each line short and escaped, whatever input the message repeats.
            let mut lines = msg.lines();
            eprintln!(
                "starsgate: {}",
                crate::brief::line(lines.next().unwrap_or(""))
            );
            for line in lines {
                eprintln!("{}", crate::brief::line(line));
            }
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<(), Failure> {
    if command
        .config_dir()
        .is_some_and(|dir| dir.as_os_str().is_empty())
    {
        return Err(Failure(
            "--config: the value is empty; name the configuration directory (e.g. --config config)"
                .into(),
        ));
    }
    match command {
        Command::Run { config } => run::run(&config).await,
        Command::Check {
            config,
            without_secrets,
        } => {
            let policy = if without_secrets {
                crate::config::SecretCheck::IfSet
            } else {
                crate::config::SecretCheck::Required
            };
            check::check(&config, policy)
        }
        Command::Init { dir } => init::init(&dir),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "starsgate", &mut std::io::stdout());
            Ok(())
        }
        #[cfg(feature = "sim")]
        Command::Demo {
            serve,
            admin_listen,
        } => crate::demo::run(serve.then_some(admin_listen), run::shutdown_signal())
            .await
            .map_err(Failure),
        Command::Reload { config } => run::reload(&config),
        #[cfg(feature = "sim")]
        Command::Bench {
            bots,
            orders,
            concurrency,
            polling,
            ledger,
            synchronous,
            idle,
        } => crate::bench::run(crate::bench::BenchOptions {
            bots,
            orders,
            concurrency,
            webhook: !polling,
            ledger_url: ledger,
            synchronous,
            idle,
        })
        .await
        .map_err(Failure),
        #[cfg(feature = "sim")]
        Command::Sim { listen, bots } => sim::sim(listen, &bots).await,
        Command::Plugin {
            command: PluginCommand::Test { plugin, fixtures },
        } => plugin_test::plugin_test(&plugin, &fixtures),
        Command::Plugin {
            command: PluginCommand::Run(args),
        } => plugin_run::plugin_run(&args),
        Command::Plugin {
            command:
                PluginCommand::Replay {
                    config,
                    bot,
                    charge,
                    order,
                    plugin,
                    json,
                },
        } => {
            let which = match (charge, order) {
                (Some(charge), _) => plugin_run::Recorded::Charge(charge),
                (None, Some(order)) => plugin_run::Recorded::Order(order),
                (None, None) => return Err(Failure("name --charge ID or --order ID".into())),
            };
            plugin_run::plugin_replay(&config, &bot, which, plugin.as_deref(), json).await
        }
        Command::Plugin {
            command: PluginCommand::New { name, hooks, dir },
        } => plugin_new::plugin_new(&dir, &name, &hooks),
        Command::Refund {
            config,
            bot,
            charge,
        } => refund::refund(&config, &bot, &charge).await,
        Command::Ledger {
            command:
                LedgerCommand::Export {
                    config,
                    format,
                    bot,
                    since,
                },
        } => {
            ledger::export(
                &config,
                matches!(format, Format::Json),
                bot,
                since.as_deref(),
            )
            .await
        }
        Command::Ledger {
            command:
                LedgerCommand::Events {
                    config,
                    bot,
                    charge,
                    order,
                    json,
                },
        } => ledger::events(&config, &bot, charge.as_ref(), order.as_deref(), json).await,
        Command::Reconcile { config, bot } => reconcile::reconcile(&config, bot.as_deref()).await,
        Command::Webhook {
            command: WebhookCommand::Status { config },
        } => webhook::status(&config).await,
        Command::Stats { config, bot } => ledger::stats(&config, bot.as_ref()).await,
        Command::PaidMedia { command } => paid_media::run(command).await,
        Command::Events {
            command:
                EventsCommand::List {
                    config,
                    bot,
                    status,
                    since,
                    json,
                },
        } => events::list(&config, bot, status.as_deref(), since.as_deref(), json).await,
        Command::Events {
            command: EventsCommand::Replay { config, bot, since },
        } => events::replay(&config, &bot, &since).await,
    }
}
