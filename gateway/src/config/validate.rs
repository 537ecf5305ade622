//! Raw files → domain config: which files are read, and what a problem in each costs. Every
//! check adds a `Problem` and carries on, so `starsgate check` prints everything wrong in one
//! run. The checks themselves are in `gateway_file` (`gateway.toml`), `bot_file` (one bot file)
//! and `product` (its products and plugin files).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::lookup::Lookup;
use super::{BotConfig, Config, GatewayConfig, Problem, Problems, SecretCheck, Secrets};
use super::{bot_file, gateway_file};

/// What `run` loads: a product whose plugin file is missing or does not match its pin is not a
/// reason to keep the whole gateway down; it is kept in [`Config::unusable_plugins`] and that
/// product refuses checkouts while the rest of the store sells.
pub(super) fn load(dir: &Path, secrets: &Secrets<'_>) -> Result<Config, Problems> {
    load_checking(dir, secrets, SecretCheck::Required, Plugins::Lenient).map(|(config, _)| config)
}

/// Whether a product's unusable plugin file is a problem of the whole configuration
/// (`check`, reload) or of that product alone (`run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plugins {
    Strict,
    Lenient,
}

/// Loads everything; with [`SecretCheck::IfSet`] a missing secret is listed as unchecked
/// instead of being a problem (a missing bot token is then replaced by a placeholder).
pub(super) fn load_checking(
    dir: &Path,
    secrets: &Secrets<'_>,
    policy: SecretCheck,
    plugins: Plugins,
) -> Result<(Config, Vec<String>), Problems> {
    let mut problems = Problems::default();
    let mut lookup = Lookup::new(secrets, policy);
    let gateway_file = dir.join("gateway.toml");
    let gateway = gateway_file::load(&gateway_file, &mut lookup, &mut problems);
    let mut unusable = Problems::default();
    let bots = load_bots(dir, &mut lookup, &mut problems, &mut unusable);
    if plugins == Plugins::Strict {
        problems.0.append(&mut unusable.0);
    }
    match gateway {
        Some(gateway) if problems.is_empty() => Ok((
            Config {
                dir: dir.to_owned(),
                gateway,
                bots,
                unusable_plugins: unusable.0,
            },
            lookup.unchecked,
        )),
        _ => Err(problems),
    }
}

pub(super) fn gateway_only(
    dir: &Path,
    secrets: &Secrets<'_>,
    policy: SecretCheck,
) -> Result<GatewayConfig, Problems> {
    let mut problems = Problems::default();
    let mut lookup = Lookup::new(secrets, policy);
    match gateway_file::load(&dir.join("gateway.toml"), &mut lookup, &mut problems) {
        Some(g) if problems.is_empty() => Ok(g),
        _ => Err(problems),
    }
}

/// Every `bots/*.toml`, in file-name order. A gateway needs at least one, and no two may share a
/// token (two gateways' worth of updates would race for one bot).
fn load_bots(
    dir: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
    unusable: &mut Problems,
) -> Vec<BotConfig> {
    let bots_dir = dir.join("bots");
    let entries = match std::fs::read_dir(&bots_dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::new(
                &bots_dir,
                "",
                format!("cannot read the bots directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        problems.push(Problem::new(
            &bots_dir,
            "",
            "no bot files (*.toml); a gateway needs at least one store",
        ));
    }
    let mut bots: Vec<BotConfig> = Vec::new();
    let mut tokens = HashSet::new();
    for file in files {
        if let Some(bot) = bot_file::load(dir, &file, secrets, problems, unusable) {
            if bot.token.expose() != bot_file::UNCHECKED_TOKEN
                && !tokens.insert(bot.token.expose().to_owned())
            {
                problems.push(Problem::new(
                    &file,
                    "token_env",
                    "this token is already used by another bot file; each bot needs its own token",
                ));
            }
            bots.push(bot);
        }
    }
    bots
}

/// Loads one bot file (a reload). Returns `None` (with problems recorded) if anything in it is
/// wrong, its plugin files included.
pub fn load_bot(
    config_dir: &Path,
    file: &Path,
    secrets: &Secrets<'_>,
    problems: &mut Problems,
) -> Option<BotConfig> {
    let mut lookup = Lookup::new(secrets, SecretCheck::Required);
    let mut unusable = Problems::default();
    let bot = bot_file::load(config_dir, file, &mut lookup, problems, &mut unusable);
    if unusable.is_empty() {
        bot
    } else {
        problems.0.append(&mut unusable.0);
        None
    }
}
