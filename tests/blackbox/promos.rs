//! Promo codes (issue 19): a code discounts the invoice and the ledger records it; every code
//! that cannot be used gets its own message and the full-price offer; the last use raced by two
//! buyers is paid once; `check` refuses bad `[[promo]]` entries as `file: key: reason`.

use starsgate::ledger::{ExportFilter, PaymentStatus};
use starsgate::pricing::DiscountSource;
use starsgate_sim::{InvoiceRef, PayOutcome, SentMessage};

use crate::helpers::*;
use crate::on_both_ledgers;

const SHOP: &str = "promo-shop";

/// A store with a one-time product, a subscription and codes in every state.
fn shop(extra: &str) -> String {
    format!(
        "token_env = \"PROMO_SHOP_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\nadmins = [7000]\n\
         [[product]]\nid = \"guide\"\ntitle = \"Guide\"\ndescription = \"A guide\"\nprice = 50\n\
         [product.config]\ntext = \"Here is the guide.\"\n\
         [[product]]\nid = \"monthly\"\ntitle = \"Monthly\"\ndescription = \"A membership\"\nprice = 100\nsubscription = true\n\
         [product.config]\ntext = \"Welcome in.\"\n\
         [[promo]]\ncode = \"SPRING25\"\npercent_off = 25\n\
         [[promo]]\ncode = \"OLD\"\nstars_off = 5\nends = 2020-01-01T00:00:00Z\n\
         [[promo]]\ncode = \"SOON\"\nstars_off = 5\nstarts = 2999-01-01T00:00:00Z\n\
         [[promo]]\ncode = \"LAST\"\nstars_off = 10\nmax_uses = 1\n\
         {extra}"
    )
}

fn texts(messages: &[SentMessage]) -> Vec<String> {
    messages.iter().filter_map(|m| m.text.clone()).collect()
}

fn invoice_count(h: &Harness, user: i64) -> usize {
    h.sim
        .messages(&h.token(SHOP), user)
        .iter()
        .filter(|m| m.invoice.is_some())
        .count()
}

/// Asks for `product` with `code` and returns the bot's refusal message, checking it carries
/// the full-price offer as its button and that no invoice was sent.
async fn refused_with(h: &Harness, user: i64, product: &str, code: &str, expected: &str) {
    let invoices = invoice_count(h, user);
    h.say(SHOP, user, &format!("/buy {product} {code}"));
    let msgs = h
        .wait_for(SHOP, user, expected, |m| {
            texts(m).iter().any(|t| t == expected)
        })
        .await;
    let refusal = msgs
        .iter()
        .find(|m| m.text.as_deref() == Some(expected))
        .unwrap();
    let button = &refusal.reply_markup.as_ref().expect("a button")["inline_keyboard"][0][0];
    assert_eq!(
        button["callback_data"],
        format!("buy:{product}"),
        "{refusal:?}"
    );
    assert!(
        button["text"].as_str().unwrap_or("").contains("full price"),
        "{refusal:?}"
    );
    assert_eq!(invoice_count(h, user), invoices, "never a silent invoice");
}

async fn a_promo_code_discounts_the_invoice_and_the_payment_records_it(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(SHOP, &shop(""));
    let gw = h.start().await;
    let token = h.token(SHOP);
    // /buy with the code in lower case, and the deep link with it in upper case.
    h.say(SHOP, 7101, "/buy guide spring25");
    h.say(SHOP, 7102, "/start guide__SPRING25");
    for user in [7101, 7102] {
        h.wait_for_invoice(SHOP, user, 1).await;
        assert!(matches!(
            h.pay_latest(SHOP, user).await,
            PayOutcome::Paid { .. }
        ));
        h.wait_for_deliveries(SHOP, user, 1).await;
    }
    let invoices = h.sim.invoices(&token);
    assert_eq!(invoices.len(), 2);
    for inv in &invoices {
        // 25% of 50 is 12.5: the discount rounds down to 12, the buyer pays 38.
        assert_eq!(inv.amount, 38, "{inv:?}");
        let label = inv.params["prices"][0]["label"].as_str().unwrap_or("");
        assert!(
            label.contains("SPRING25"),
            "the label names the code: {label}"
        );
    }
    let ledger = h.ledger().await;
    h.settle().await;
    let payments = ledger.payments(Some(&bot_id(SHOP))).await.unwrap();
    assert_eq!(payments.len(), 2);
    for p in &payments {
        assert_eq!(p.amount, 38);
        assert_eq!(p.status, PaymentStatus::Delivered);
        assert_eq!(p.pricing.list_price, 50);
        assert_eq!(
            p.pricing.promo_code.as_ref().map(|c| c.as_str()),
            Some("SPRING25")
        );
        assert_eq!(p.pricing.discount_source, Some(DiscountSource::Promo));
    }
    let export = ledger
        .export(&ExportFilter {
            bot: Some(bot_id(SHOP)),
            since_ms: None,
        })
        .await
        .unwrap();
    assert!(
        export.iter().all(|r| r.list_price == 50
            && r.amount == 38
            && r.promo_code.as_deref() == Some("SPRING25")),
        "{export:?}"
    );
    let stats = ledger.promo_stats(Some(&bot_id(SHOP))).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (stats[0].uses, stats[0].discounted, stats[0].revenue),
        (2, 24, 76)
    );
    assert_eq!(
        starsgate::ledger::summarize_promos(
            &payments
                .iter()
                .map(starsgate::ledger::Sold::from)
                .collect::<Vec<_>>()
        ),
        stats,
        "the dashboard's per-period count agrees"
    );
    let out = h
        .command()
        .args(["stats", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate stats");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.contains("SPRING25")
            && l.split_whitespace().eq([SHOP, "SPRING25", "2", "24", "76"])),
        "{stdout}"
    );
    let csv = h
        .command()
        .args(["ledger", "export", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate ledger export");
    let csv = String::from_utf8_lossy(&csv.stdout);
    let header = csv.lines().next().unwrap_or("");
    assert!(
        header.ends_with("refunded_at,plugin_sha256,list_price,promo_code"),
        "new columns at the end: {header}"
    );
    gw.stop().await;
    h.finish().await;
}

async fn each_code_that_cannot_be_used_gets_its_own_message_and_the_full_price_offer(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    h.add_bot(SHOP, &shop(""));
    let gw = h.start().await;
    let token = h.token(SHOP);
    refused_with(&h, 7201, "guide", "NOPE", "There is no code NOPE here.").await;
    refused_with(&h, 7201, "guide", "old", "Code OLD has expired.").await;
    refused_with(&h, 7201, "guide", "SOON", "Code SOON is not valid yet.").await;
    refused_with(
        &h,
        7201,
        "monthly",
        "SPRING25",
        "Code SPRING25 does not apply to this product.",
    )
    .await;
    // The last use of LAST goes to 7202; then it is used up for 7203 and already used by 7202.
    h.say(SHOP, 7202, "/buy guide LAST");
    h.wait_for_invoice(SHOP, 7202, 1).await;
    assert!(matches!(
        h.pay_latest(SHOP, 7202).await,
        PayOutcome::Paid { .. }
    ));
    h.wait_for_deliveries(SHOP, 7202, 1).await;
    refused_with(
        &h,
        7202,
        "guide",
        "LAST",
        "You have already used code LAST.",
    )
    .await;
    refused_with(&h, 7203, "guide", "LAST", "Code LAST has been used up.").await;
    // The offer's button sells at the full price.
    let refusal = h
        .sim
        .messages(&token, 7203)
        .into_iter()
        .find(|m| m.reply_markup.is_some())
        .unwrap();
    h.sim
        .press_button(&token, 7203, refusal.message_id, "buy:guide")
        .unwrap();
    let msgs = h.wait_for_invoice(SHOP, 7203, 1).await;
    let invoice = msgs.iter().find_map(|m| m.invoice.clone()).unwrap();
    assert_eq!(invoice.amount, 50);
    gw.stop().await;
    h.finish().await;
}

async fn the_last_use_raced_by_two_buyers_is_paid_once_and_refused_at_pre_checkout(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    h.add_bot(SHOP, &shop(""));
    let gw = h.start().await;
    let token = h.token(SHOP);
    // Both buyers hold an invoice at the code's price before either pays.
    for user in [7301, 7302] {
        h.say(SHOP, user, "/buy guide last");
        h.wait_for_invoice(SHOP, user, 1).await;
    }
    assert!(h.sim.invoices(&token).iter().all(|i| i.amount == 40));
    // They pay at the same moment: one pre-checkout holds the last use, the other is refused.
    let (a, b) = tokio::join!(
        h.sim.pay(&token, 7301, &InvoiceRef::Latest),
        h.sim.pay(&token, 7302, &InvoiceRef::Latest)
    );
    let outcomes = [a.expect("pay"), b.expect("pay")];
    let paid = outcomes
        .iter()
        .filter(|o| matches!(o, PayOutcome::Paid { .. }))
        .count();
    let refused: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            PayOutcome::Rejected { error_message } => Some(error_message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(paid, 1, "{outcomes:?}");
    assert_eq!(
        refused,
        ["Code LAST has been used up. You have not been charged."],
        "{outcomes:?}"
    );
    assert_eq!(
        h.sim.star_transactions(&token).len(),
        1,
        "nobody is charged twice"
    );
    h.settle().await;
    let ledger = h.ledger().await;
    let payments = ledger.payments(Some(&bot_id(SHOP))).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount, 40);
    // A third buyer is told at once.
    refused_with(&h, 7303, "guide", "LAST", "Code LAST has been used up.").await;
    gw.stop().await;
    h.finish().await;
}

async fn a_refunded_use_is_given_back(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(SHOP, &shop(""));
    let gw = h.start().await;
    h.say(SHOP, 7401, "/buy guide LAST");
    h.wait_for_invoice(SHOP, 7401, 1).await;
    let PayOutcome::Paid { charge_id, .. } = h.pay_latest(SHOP, 7401).await else {
        panic!("the first use is paid");
    };
    h.wait_for_deliveries(SHOP, 7401, 1).await;
    refused_with(&h, 7402, "guide", "LAST", "Code LAST has been used up.").await;
    h.say(SHOP, 7000, &format!("/refund {charge_id}"));
    let ledger = h.ledger().await;
    eventually("the refund recorded", || async {
        status(&ledger, SHOP, &charge_id).await == Some(PaymentStatus::Refunded)
    })
    .await;
    h.say(SHOP, 7402, "/buy guide LAST");
    let msgs = h.wait_for_invoice(SHOP, 7402, 1).await;
    assert_eq!(
        msgs.iter().find_map(|m| m.invoice.clone()).unwrap().amount,
        40
    );
    assert!(
        ledger
            .promo_stats(Some(&bot_id(SHOP)))
            .await
            .unwrap()
            .is_empty(),
        "a refunded use is not counted"
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_refunded_use_is_given_back,
    a_promo_code_discounts_the_invoice_and_the_payment_records_it,
    each_code_that_cannot_be_used_gets_its_own_message_and_the_full_price_offer,
    the_last_use_raced_by_two_buyers_is_paid_once_and_refused_at_pre_checkout,
);

/// `starsgate check` names every bad `[[promo]]` key as `file: key: reason`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_every_bad_promo_with_its_key() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(
        SHOP,
        &shop(
            "[[promo]]\ncode = \"bad-code\"\npercent_off = 5\n\
             [[promo]]\ncode = \"BOTH\"\npercent_off = 5\nstars_off = 5\n\
             [[promo]]\ncode = \"NEITHER\"\n\
             [[promo]]\ncode = \"ZERO\"\npercent_off = 0\n\
             [[promo]]\ncode = \"ALL\"\npercent_off = 100\n\
             [[promo]]\ncode = \"TOOMUCH\"\nstars_off = 50\nproducts = [\"guide\"]\n\
             [[promo]]\ncode = \"GHOST\"\nstars_off = 1\nproducts = [\"no-such\"]\n\
             [[promo]]\ncode = \"BACKWARDS\"\nstars_off = 1\nstarts = 2026-12-31T00:00:00Z\nends = 2026-12-01T00:00:00Z\n\
             [[promo]]\ncode = \"SPRING25\"\npercent_off = 10\n\
             [[promo]]\ncode = \"SUBS\"\nstars_off = 1\nproducts = [\"monthly\"]\n",
        ),
    );
    let out = h
        .command()
        .args(["check", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate check");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "promo-shop.toml: promo[4].code: \"bad-code\" must be 3-16 characters of A-Z and 0-9",
        "promo-shop.toml: promo[5].percent_off: set exactly one of percent_off and stars_off",
        "promo-shop.toml: promo[6].percent_off: set exactly one of percent_off and stars_off",
        "promo-shop.toml: promo[7].percent_off: must be 1-99",
        "promo-shop.toml: promo[8].percent_off: must be 1-99",
        "promo-shop.toml: promo[9].stars_off: leaves less than 1 Star of guide (price 50)",
        "promo-shop.toml: promo[10].products: \"no-such\" is not a product of this bot",
        "promo-shop.toml: promo[11].ends: must be after starts",
        "promo-shop.toml: promo[12].code: duplicate code SPRING25 in this bot",
        "promo-shop.toml: promo[13].products: monthly is a subscription",
    ] {
        assert!(stderr.contains(expected), "{expected}\nin:\n{stderr}");
    }
    h.finish().await;
}
