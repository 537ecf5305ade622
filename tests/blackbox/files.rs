//! Files as deliveries: a document, photo, video or audio sent by URL or by a `file_id`, each
//! part of a delivery sent once, across a kill -9 between the parts.

use starsgate::ledger::PaymentStatus;
use starsgate_sim::{SentMedia, SentMessage};

use crate::crash::wait_for_exit;
use crate::helpers::*;
use crate::on_both_ledgers;

const HANNA: i64 = 8101;
const FILES: &str = "files";

fn files_bot(document: &str) -> String {
    format!(
        r#"
token_env = "FILES_TOKEN"
support = "s"
terms = "t"
[[product]]
id = "guide-pdf"
title = "The guide"
description = "The guide as a PDF."
price = 5
[product.config]
text = "Your guide is below."
document = "{document}"
caption = "The guide, 2026 edition"
"#
    )
}

fn files(messages: &[SentMessage]) -> Vec<SentMedia> {
    messages.iter().filter_map(|m| m.media.clone()).collect()
}

async fn a_pdf_is_delivered_as_a_document_after_the_thank_you_text(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(FILES, &files_bot("https://example.com/guide.pdf"));
    let gw = h.start().await;
    let (charge, _) = h.buy(FILES, HANNA, "guide-pdf").await;
    h.wait_for(FILES, HANNA, "the document", |m| !files(m).is_empty())
        .await;
    let ledger = h.ledger().await;
    eventually("the payment to be delivered", || async {
        status(&ledger, FILES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    h.settle().await;
    let msgs = h.sim.messages(&h.token(FILES), HANNA);
    let texts = deliveries(&msgs);
    assert_eq!(texts.len(), 1, "one thank-you text: {texts:?}");
    assert!(texts[0].contains("Your guide is below."));
    let docs = files(&msgs);
    assert_eq!(docs.len(), 1, "one document: {docs:?}");
    assert_eq!(docs[0].kind, "document");
    assert_eq!(docs[0].file, "https://example.com/guide.pdf");
    assert_eq!(docs[0].caption.as_deref(), Some("The guide, 2026 edition"));
    // The text comes first, then the file.
    let text_at = msgs
        .iter()
        .position(|m| m.text.as_deref().is_some_and(|t| t.contains("Your guide")));
    let doc_at = msgs.iter().position(|m| m.media.is_some());
    assert!(text_at < doc_at);
    gw.stop().await;
    h.finish().await;
}

async fn a_kill_between_the_text_and_the_document_sends_each_once(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(FILES, &files_bot("https://example.com/guide.pdf"));
    let mut first = h.spawn_process(Some("delivery_part_sent"));
    let (charge, _) = h.buy(FILES, HANNA, "guide-pdf").await;
    wait_for_exit(&mut first);
    assert!(
        files(&h.sim.messages(&h.token(FILES), HANNA)).is_empty(),
        "killed after the text was recorded, before the document"
    );
    let mut second = h.spawn_process(None);
    h.wait_for(FILES, HANNA, "the document", |m| !files(m).is_empty())
        .await;
    let ledger = h.ledger().await;
    eventually("the payment to be delivered", || async {
        status(&ledger, FILES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    h.settle().await;
    let msgs = h.sim.messages(&h.token(FILES), HANNA);
    assert_eq!(deliveries(&msgs).len(), 1, "the text once: {msgs:#?}");
    assert_eq!(files(&msgs).len(), 1, "the document once: {msgs:#?}");
    let _ = second.kill();
    let _ = second.wait();
    h.finish().await;
}

async fn a_file_telegram_cannot_fetch_holds_the_payment_for_review(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(FILES, &files_bot("https://files.invalid/guide.pdf"));
    let gw = h.start().await;
    let (charge, _) = h.buy(FILES, HANNA, "guide-pdf").await;
    let ledger = h.ledger().await;
    eventually("the payment to be held for review", || async {
        status(&ledger, FILES, &charge).await == Some(PaymentStatus::NeedsReview)
    })
    .await;
    h.settle().await;
    let msgs = h.sim.messages(&h.token(FILES), HANNA);
    assert_eq!(deliveries(&msgs).len(), 1, "the text went out once");
    assert!(files(&msgs).is_empty());
    assert!(
        ledger
            .delivery_content(&bot_id(FILES), &charge_id_of(&charge))
            .await
            .unwrap()
            .is_some(),
        "the content is kept for the seller"
    );
    gw.stop().await;
    h.finish().await;
}

async fn a_file_id_the_bot_was_issued_is_delivered_by_id(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(FILES, &files_bot("https://example.com/placeholder.pdf"));
    // The seller uploaded the PDF to the bot once; the product names its file id.
    let file_id = h
        .sim
        .upload_file(&h.token(FILES), "document", "guide.pdf")
        .unwrap();
    std::fs::write(
        h.dir.path().join("bots").join("files.toml"),
        files_bot(&file_id),
    )
    .unwrap();
    let gw = h.start().await;
    h.buy(FILES, HANNA, "guide-pdf").await;
    let msgs = h
        .wait_for(FILES, HANNA, "the document", |m| !files(m).is_empty())
        .await;
    let docs = files(&msgs);
    assert_eq!(docs[0].file, file_id);
    assert_eq!(docs[0].file_id, file_id);
    gw.stop().await;
    h.finish().await;
}

/// Plugin contract 0.2.0's media items: the bundled `launch-price` delivers its `document`.
async fn a_0_2_plugin_delivers_a_document_as_its_own_message(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(
        FILES,
        r#"
token_env = "FILES_TOKEN"
support = "s"
terms = "t"
[[product]]
id = "early-guide"
title = "Early guide"
description = "The guide, at a launch price."
price = 50
plugin = "bundled:launch-price"
[product.config]
launch_price = 10
launch_units = 5
text = "Thanks for buying early!"
document = "https://example.com/early.pdf"
"#,
    );
    let gw = h.start().await;
    h.buy(FILES, HANNA, "early-guide").await;
    h.wait_for(FILES, HANNA, "the document", |m| !files(m).is_empty())
        .await;
    h.settle().await;
    let msgs = h.sim.messages(&h.token(FILES), HANNA);
    let texts = deliveries(&msgs);
    assert_eq!(texts.len(), 1, "{msgs:#?}");
    assert!(texts[0].contains("Thanks for buying early!"));
    let docs = files(&msgs);
    assert_eq!(docs.len(), 1, "{msgs:#?}");
    assert_eq!(
        (docs[0].kind.as_str(), docs[0].file.as_str()),
        ("document", "https://example.com/early.pdf")
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_0_2_plugin_delivers_a_document_as_its_own_message,
    a_pdf_is_delivered_as_a_document_after_the_thank_you_text,
    a_kill_between_the_text_and_the_document_sends_each_once,
    a_file_telegram_cannot_fetch_holds_the_payment_for_review,
    a_file_id_the_bot_was_issued_is_delivered_by_id,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_a_plain_http_document() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(FILES, &files_bot("http://example.com/guide.pdf"));
    let out = h
        .command()
        .args(["check", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate check");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = "files.toml: product[0].config: item 1: a document URL must be https://";
    assert!(stderr.contains(expected), "{expected}\nin:\n{stderr}");
    h.finish().await;
}
