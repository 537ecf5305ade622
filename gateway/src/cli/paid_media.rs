//! `starsgate paid-media send --bot BOT --chat CHAT --stars N [--caption TEXT] MEDIA…`: posts
//! media that buyers unlock for Stars, with the post's id as its payload, and records the post.
//! The arguments are checked against Telegram's limits before anything is loaded, so a typo costs
//! no connection; Telegram's own refusal (an unknown chat, a URL it cannot fetch) is one sentence.

use std::path::Path;

use clap::Subcommand;

use super::{ConfigDir, Failure};
use crate::App;
use crate::config::Config;
use crate::paid_media::PostRequest;

#[derive(Debug, Subcommand)]
pub(super) enum PaidMediaCommand {
    /// Post photos and videos that buyers unlock for Stars (sendPaidMedia) and record the post.
    Send {
        #[command(flatten)]
        config: ConfigDir,
        #[arg(long)]
        bot: String,
        /// A chat id (a channel's is -100…) or a public channel's @username.
        #[arg(long, allow_hyphen_values = true)]
        chat: String,
        /// The price to unlock: 1-25000 Stars.
        #[arg(long, allow_hyphen_values = true)]
        stars: i64,
        /// Up to 1024 characters, shown under the post.
        #[arg(long)]
        caption: Option<String>,
        /// 1-10 items, each an https URL or a Telegram file_id. `photo:` or `video:` in front says
        /// which; without it, a URL ending in .mp4 .mov .m4v .webm .mkv or .avi is a video and
        /// anything else (a bare file_id too) a photo.
        media: Vec<String>,
    },
}

impl PaidMediaCommand {
    pub(super) fn config_dir(&self) -> &Path {
        match self {
            PaidMediaCommand::Send { config, .. } => config,
        }
    }
}

pub(super) async fn run(command: PaidMediaCommand) -> Result<(), Failure> {
    let PaidMediaCommand::Send {
        config,
        bot,
        chat,
        stars,
        caption,
        media,
    } = command;
    let post = PostRequest::parse(&chat, stars, caption.as_deref(), &media).map_err(|e| {
        let e = e.0;
        match e.strip_prefix("media: ") {
            Some(rest) => Failure(format!("MEDIA: {rest}")),
            None => Failure(format!("--{e}")),
        }
    })?;
    let dir: &Path = &config;
    let config =
        Config::load(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    if config.bots.iter().all(|b| b.id.as_str() != bot) {
        return Err(Failure(format!(
            "--bot: there is no bot {} in {}",
            crate::brief::value(&bot),
            dir.display()
        )));
    }
    let app = App::build(config).await?;
    let store = app
        .store(&bot)
        .ok_or_else(|| Failure(format!("--bot: no bot {}", crate::brief::value(&bot))))?;
    let sent = crate::shop::paid_media::send_post(&store, &post, "starsgate paid-media send").await;
    app.ledger().close().await;
    let posted = sent?;
    println!(
        "Posted paid media {} to chat {} (message {}): {} item(s) for {} Stars. Its sales are exported as product {}.",
        posted.id,
        post.chat,
        posted.message_id,
        post.media.len(),
        post.stars.get(),
        posted.id.product()
    );
    Ok(())
}
