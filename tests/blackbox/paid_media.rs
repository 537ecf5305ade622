//! Paid media posts from the command line: sent with the post id as the payload, each purchase
//! recorded once from its `purchased_paid_media` update, linked to its charge by reconciliation,
//! and counted in `ledger export` and `stats`. The admin API's side is in `paid_media_api.rs`.

use serde_json::{Value, json};
use starsgate::ledger::PaidMediaPurchase;
use starsgate::paid_media::{ChatTarget, PostId, PostState};

use crate::helpers::*;
use crate::on_both_ledgers;

const ANN: i64 = 9401;

/// Runs the real binary off the runtime (the simulator answering it runs on this runtime).
pub(crate) async fn starsgate(h: &Harness, args: &[&str]) -> (bool, String, String) {
    let mut cmd = h.command();
    cmd.args(args).arg("--config").arg(h.dir.path());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run starsgate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn purchases(h: &Harness) -> Vec<PaidMediaPurchase> {
    let ledger = h.ledger().await;
    let all = ledger
        .paid_media_purchases(Some(&bot_id(GUIDES)), None)
        .await
        .expect("read purchases");
    ledger.close().await;
    all
}

async fn a_post_sent_from_the_command_line_is_bought_once_and_reconciled(backend: Backend) {
    let h = Harness::new(backend).await;
    h.set_gateway("ledger", "reconcile_every_secs", "0");
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, ANN, "/start");
    h.wait_for(GUIDES, ANN, "the greeting", |m| !m.is_empty())
        .await;
    let ann = ANN.to_string();
    let (ok, stdout, stderr) = starsgate(
        &h,
        &[
            "paid-media",
            "send",
            "--bot",
            GUIDES,
            "--chat",
            &ann,
            "--stars",
            "15",
            "--caption",
            "Behind the scenes",
            "https://example.com/a.jpg",
            "https://example.com/b.mp4",
        ],
    )
    .await;
    assert!(ok, "{stdout}{stderr}");
    let posts = h.sim.paid_media_posts(&token);
    assert_eq!(posts.len(), 1, "{posts:?}");
    let sent = &posts[0];
    let id = PostId::parse(&sent.payload).expect("the payload is the post id");
    assert!(stdout.contains(id.as_str()), "{stdout}");
    assert_eq!((sent.star_count, sent.chat_id), (15, ANN));
    let kinds: Vec<&str> = sent.media.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["photo", "video"], "the kind follows the extension");
    let ledger = h.ledger().await;
    let post = ledger
        .paid_media_post(&bot_id(GUIDES), &id)
        .await
        .unwrap()
        .expect("the post is recorded");
    assert_eq!(post.state, PostState::Sent);
    assert_eq!(post.message_id, Some(sent.message_id));
    assert_eq!((post.stars, post.media_count), (15, 2));
    assert_eq!(post.chat, ChatTarget::Id(ANN));

    let bought = h
        .sim
        .buy_paid_media(&token, ANN, ANN, sent.message_id)
        .unwrap();
    let charge = bought.charge_id.expect("charged to the bot");
    let update_id = bought.update_id.expect("purchased_paid_media sent");
    let outcome = wait_for_outcome(&ledger, GUIDES, update_id).await;
    assert!(outcome.contains("recorded"), "{outcome}");
    // Telegram delivers the same update again (its acknowledgement was lost).
    h.sim.repeat_update(&token, update_id, true).unwrap();
    h.settle().await;
    let recorded = purchases(&h).await;
    assert_eq!(recorded.len(), 1, "recorded once: {recorded:?}");
    assert_eq!(recorded[0].post_id.as_ref(), Some(&id));
    assert_eq!(
        (recorded[0].user_id, recorded[0].charge_id.clone()),
        (ANN, None)
    );

    let store = gw.store(GUIDES).unwrap();
    let report = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        report.paid_media,
        std::slice::from_ref(&charge),
        "{report:?}"
    );
    let again = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert!(again.paid_media.is_empty(), "{again:?}");
    let linked = purchases(&h).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(
        linked[0].charge_id.as_ref().map(|c| c.as_str()),
        Some(charge.as_str())
    );
    assert_eq!(linked[0].amount.map(|a| a.stars), Some(15));

    let (ok, export, stderr) = starsgate(&h, &["ledger", "export", "--format", "json"]).await;
    assert!(ok, "{stderr}");
    let sale: Value = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["product"] == id.product())
        .unwrap_or_else(|| panic!("no paid media sale in the export:\n{export}"));
    assert_eq!(sale["charge_id"], charge.as_str());
    assert_eq!(
        (sale["amount"].clone(), sale["status"].clone()),
        (json!(15), json!("delivered"))
    );
    assert_eq!(sale["user_id"], ANN);
    let (ok, csv, _) = starsgate(&h, &["ledger", "export"]).await;
    assert!(
        ok && csv.starts_with("bot,charge_id,user_id,product,amount,currency,status"),
        "{csv}"
    );
    let (ok, stats, stderr) = starsgate(&h, &["stats"]).await;
    assert!(ok, "{stderr}");
    let row = stats
        .lines()
        .find(|l| l.contains(&id.product()))
        .unwrap_or_else(|| panic!("no paid media row in stats:\n{stats}"));
    assert!(row.split_whitespace().last() == Some("15"), "{row}");
    assert!(stats.contains("gross"), "{stats}");
    ledger.close().await;
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(a_post_sent_from_the_command_line_is_bought_once_and_reconciled);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_command_lines_get_one_sentence_naming_the_argument() {
    let h = Harness::new(Backend::Sqlite).await;
    let photo = "https://example.com/a.jpg";
    let eleven: Vec<&str> = vec![photo; 11];
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--bot", GUIDES, "--chat", "5", "--stars", "0", photo],
            "--stars: must be 1-25000",
        ),
        (
            vec!["--bot", GUIDES, "--chat", "5", "--stars", "25001", photo],
            "--stars: must be 1-25000",
        ),
        (
            vec!["--bot", GUIDES, "--chat", "-100", "--stars", "-3", photo],
            "--stars",
        ),
        (
            vec!["--bot", GUIDES, "--chat", "5", "--stars", "5"],
            "MEDIA: name at least one",
        ),
        (
            vec!["--bot", GUIDES, "--chat", "five", "--stars", "5", photo],
            "--chat:",
        ),
        (
            vec![
                "--bot",
                GUIDES,
                "--chat",
                "5",
                "--stars",
                "5",
                "ftp://x.io/a",
            ],
            "MEDIA:",
        ),
        (
            vec!["--bot", "nobody", "--chat", "5", "--stars", "5", photo],
            "--bot: there is no bot",
        ),
    ];
    let mut too_many = vec!["--bot", GUIDES, "--chat", "5", "--stars", "5"];
    too_many.extend(eleven);
    cases.push((too_many, "at most 10"));
    for (args, says) in cases {
        let mut all = vec!["paid-media", "send"];
        all.extend(&args);
        let (ok, _, stderr) = starsgate(&h, &all).await;
        assert!(!ok, "{args:?} succeeded");
        assert!(
            stderr.starts_with("starsgate: ")
                && stderr.contains(says)
                && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
    h.finish().await;
}
