//! Behaviour of the ledger's batched writes: each caller learns its own outcome, first writers win.

use crate::config::LedgerUrl;
use crate::domain::{BotId, ChargeId, OrderId, ProductId};
use crate::holder::Holder;
use crate::ledger::{EventKind, Ledger, LedgerError, NewOrder, NewPayment, StoredUpdate, Subject};

async fn ledger(dir: &tempfile::TempDir) -> Ledger {
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    match Ledger::connect(&LedgerUrl::new(&url)).await {
        Ok(l) => l,
        Err(e) => panic!("cannot open a test ledger: {e}"),
    }
}

fn bot_id(id: &str) -> BotId {
    BotId::parse(id).expect("a valid bot id")
}

fn holder(raw: &str) -> Holder {
    Holder::parse(raw).expect("a lease holder")
}

fn product_id(id: &str) -> ProductId {
    ProductId::parse(id).expect("a valid product id")
}

fn charge_id_of(id: &str) -> ChargeId {
    ChargeId::parse(id).expect("a valid charge id")
}

fn update(update_id: i64) -> StoredUpdate {
    StoredUpdate {
        update_id,
        kind: "message".into(),
        body: format!("{{\"update_id\":{update_id}}}"),
        received_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_small_writes_each_learn_their_own_outcome() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    // 300 distinct updates, each sent twice at once (a redelivery racing the original),
    // spread over batches of every size: exactly one of each pair is new.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..600i64 {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let id = n / 2;
            let fresh = ledger.store_update(&bot_id("b"), &update(id)).await?;
            ledger
                .mark_processed(&bot_id("b"), id, &format!("done {id}"))
                .await?;
            ledger
                .record_event(
                    &bot_id("b"),
                    EventKind::UpdateUnreadable,
                    Subject::default(),
                    "x",
                )
                .await?;
            Ok::<_, LedgerError>((id, fresh))
        });
    }
    let mut fresh = std::collections::HashMap::<i64, usize>::new();
    while let Some(done) = tasks.join_next().await {
        let (id, new) = done.expect("the task ran")?;
        *fresh.entry(id).or_default() += usize::from(new);
    }
    assert_eq!(fresh.len(), 300);
    assert!(
        fresh.values().all(|&n| n == 1),
        "each update is new exactly once"
    );
    assert!(ledger.pending_updates(&bot_id("b"), 1000).await?.is_empty());
    assert_eq!(
        ledger.update_outcome(&bot_id("b"), 299).await?.as_deref(),
        Some("done 299")
    );
    assert_eq!(ledger.events(&bot_id("b"), None).await?.len(), 600);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_order_reads_back_whole_with_its_event() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    let (id, bot, item) = (OrderId::generate(), bot_id("b"), product_id("item"));
    let order = NewOrder {
        order_id: &id,
        bot: &bot,
        product: &item,
        user_id: 7,
        chat_id: 8,
        title: "Item",
        price: 5,
        currency: "XTR",
        subscription: false,
        plugin_sha256: Some("abc"),
        product_config: Some("{}"),
        pricing: crate::ledger::Pricing {
            list_price: 7,
            promo_code: crate::pricing::PromoCode::parse_config("SAVE2").ok(),
            discount_source: Some(crate::pricing::DiscountSource::Promo),
        },
    };
    ledger.create_order(&order).await?;
    // A second handle on the same file has no cached copy: this reads the row.
    let other = self::ledger(&dir).await;
    let read = other.order(&id).await?.expect("the order is stored");
    assert_eq!((read.price, read.user_id, read.chat_id), (5, 7, 8));
    assert_eq!(read.plugin_sha256.as_deref(), Some("abc"));
    assert_eq!(read.pricing, order.pricing);
    assert_eq!(ledger.order(&id).await?, Some(read));
    let events = other.events(&bot_id("b"), None).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::OrderCreated);
    // The same id again breaks the primary key: refused, and the first order stands.
    assert!(ledger.create_order(&order).await.is_err());
    assert_eq!(other.events(&bot_id("b"), None).await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deliveries_and_claims_of_one_charge_have_one_winner() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    for n in 0..20 {
        ledger
            .record_payment(&payment(&format!("c{n}"), None))
            .await?;
    }
    // 20 charges, each with 8 writers storing different content and 8 gateways claiming it,
    // all at once: every writer gets the same stored content, one claim per charge wins.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..160 {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let charge = format!("c{}", n % 20);
            let content = ledger
                .store_delivery(
                    &bot_id("b"),
                    &charge_id_of(&charge),
                    1,
                    &format!("content {n}"),
                )
                .await?;
            let won = ledger
                .claim_delivery(
                    &bot_id("b"),
                    &charge_id_of(&charge),
                    &holder(&format!("h|/etc/sg|{n}|0")),
                    60_000,
                )
                .await?;
            Ok::<_, LedgerError>((charge, content, won))
        });
    }
    let mut contents = std::collections::HashMap::<String, Vec<String>>::new();
    let mut wins = std::collections::HashMap::<String, usize>::new();
    while let Some(done) = tasks.join_next().await {
        let (charge, content, won) = done.expect("the task ran")?;
        contents.entry(charge.clone()).or_default().push(content);
        *wins.entry(charge).or_default() += usize::from(won.is_some());
    }
    for (charge, seen) in &contents {
        assert!(seen.iter().all(|c| c == &seen[0]), "{charge}: {seen:?}");
        assert_eq!(
            ledger
                .delivery_content(&bot_id("b"), &charge_id_of(charge))
                .await?
                .as_ref(),
            Some(&seen[0])
        );
        assert_eq!(
            wins[charge], 1,
            "{charge} was claimed by {} gateways",
            wins[charge]
        );
        let prepared = ledger
            .events(&bot_id("b"), Some(&charge_id_of(charge)))
            .await?;
        let prepared = prepared
            .iter()
            .filter(|e| e.kind == EventKind::DeliveryPrepared);
        assert_eq!(prepared.count(), 1);
    }
    Ok(())
}

/// A payment of bot `b` for `item` (the ids live as long as the test process: a test helper).
fn payment(charge: &str, review_reason: Option<String>) -> NewPayment<'static> {
    NewPayment {
        bot: Box::leak(Box::new(bot_id("b"))),
        charge_id: Box::leak(Box::new(charge_id_of(charge))),
        order_id: None,
        payload: "p",
        user_id: 1,
        chat_id: 1,
        product: Some(Box::leak(Box::new(product_id("item")))),
        amount: 5,
        currency: "XTR",
        provider_charge_id: None,
        plugin_sha256: None,
        update_id: None,
        review_reason,
        is_renewal: false,
        expires_at: None,
        pricing: crate::ledger::Pricing::list(5),
    }
}

/// The outbox sends a delivery the shop handed over in memory without reading the ledger
/// again, so the claim is where a payment refunded or held meanwhile stops the send.
#[tokio::test]
async fn a_delivery_is_claimed_only_while_its_payment_is_paid() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    ledger.record_payment(&payment("paid", None)).await?;
    ledger
        .record_payment(&payment(
            "held",
            Some("paid 4 XTR, the order is 5 XTR".into()),
        ))
        .await?;
    for charge in ["paid", "held"] {
        ledger
            .store_delivery(&bot_id("b"), &charge_id_of(charge), 1, "{}")
            .await?;
    }
    assert!(
        ledger
            .claim_delivery(
                &bot_id("b"),
                &charge_id_of("held"),
                &holder("h|/etc/sg|1|0"),
                60_000
            )
            .await?
            .is_none(),
        "a held payment's delivery must not be claimed"
    );
    assert!(
        ledger
            .claim_delivery(
                &bot_id("b"),
                &charge_id_of("paid"),
                &holder("h|/etc/sg|1|0"),
                60_000
            )
            .await?
            .is_some()
    );
    Ok(())
}

/// The CHECK constraints of migration 0009 spell every state and kind the enums do, on both
/// backends; a new variant without its migration fails here rather than at its first write.
#[test]
fn the_database_checks_spell_every_state_and_kind_of_the_enums() {
    use crate::ledger::{PaymentStatus, SubscriptionState};
    let migrations = [
        include_str!("../../../migrations/sqlite/0009_checks.sql"),
        include_str!("../../../migrations/postgres/0009_checks.sql"),
    ];
    let spellings = PaymentStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(SubscriptionState::ALL.iter().map(|s| s.as_str()))
        .chain(EventKind::ALL.iter().map(|k| k.as_str()));
    for spelling in spellings {
        for sql in migrations {
            assert!(
                sql.contains(&format!("'{spelling}'")),
                "{spelling} is not allowed"
            );
        }
    }
    for s in SubscriptionState::ALL {
        assert_eq!(SubscriptionState::parse(s.as_str()), Some(s));
    }
    for k in EventKind::ALL {
        assert_eq!(EventKind::parse(k.as_str()), Some(k));
    }
}

#[tokio::test]
async fn the_database_refuses_a_status_no_enum_can_read() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    ledger.record_payment(&payment("c1", None)).await?;
    let refused = sqlx::query("UPDATE payments SET status = 'shipped' WHERE charge_id = 'c1'")
        .execute(&ledger.pool)
        .await;
    assert!(refused.is_err(), "an unknown status was stored");
    let refused =
        sqlx::query("INSERT INTO events (at, bot, kind) VALUES (1, 'b', 'something_else')")
            .execute(&ledger.pool)
            .await;
    assert!(refused.is_err(), "an unknown event kind was stored");
    Ok(())
}

/// Migration 0010's CHECK constraints spell every seller event type and status the enums do.
#[test]
fn the_seller_event_checks_spell_every_type_and_status() {
    use crate::domain::SellerEventType;
    use crate::ledger::SellerEventStatus;
    let migrations = [
        include_str!("../../../migrations/sqlite/0010_seller_events.sql"),
        include_str!("../../../migrations/postgres/0010_seller_events.sql"),
    ];
    let spellings = SellerEventType::ALL
        .iter()
        .map(|t| t.as_str())
        .chain(SellerEventStatus::ALL.iter().map(|s| s.as_str()));
    for spelling in spellings {
        for sql in migrations {
            assert!(
                sql.contains(&format!("'{spelling}'")),
                "{spelling} is not allowed"
            );
        }
    }
    for t in SellerEventType::ALL {
        assert_eq!(SellerEventType::parse(t.as_str()), Ok(t));
    }
    for s in SellerEventStatus::ALL {
        assert_eq!(SellerEventStatus::parse(s.as_str()), Some(s));
    }
}

/// A migration file that is not in the embedded list is never applied (and nothing fails: a
/// missing index only makes a query slow), so the lists and the directories must match.
#[test]
fn every_migration_file_is_embedded_in_order() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for (dir, embedded) in [
        ("sqlite", super::SQLITE_MIGRATIONS),
        ("postgres", super::POSTGRES_MIGRATIONS),
    ] {
        let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect("the migrations directory")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let versions: Vec<i64> = files
            .iter()
            .map(|f| f[..4].parse().expect("NNNN_name.sql"))
            .collect();
        let listed: Vec<i64> = embedded.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(
            versions, listed,
            "migrations/{dir} and the embedded list differ"
        );
        for ((_, _, sql), file) in embedded.iter().zip(&files) {
            let on_disk = std::fs::read_to_string(root.join(dir).join(file)).expect("read");
            assert_eq!(
                *sql, on_disk,
                "migrations/{dir}/{file} is embedded as it is on disk"
            );
        }
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_ledger_is_refused() {
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite://x.db?mode=memory",
    ] {
        let refused = Ledger::connect(&LedgerUrl::new(url)).await;
        assert!(
            matches!(refused, Err(LedgerError::InMemory)),
            "{url}: {:?}",
            refused.err()
        );
    }
}

/// A payment update handled twice (the shop retries an update after a ledger error) notes its
/// repeat once; a repeat in another update is noted again.
#[tokio::test]
async fn a_repeat_is_noted_once_per_repeating_update() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    let in_update = |update_id| NewPayment {
        update_id: Some(update_id),
        ..payment("c1", None)
    };
    ledger.record_payment(&in_update(1)).await?;
    ledger.record_payment(&in_update(2)).await?;
    ledger.record_payment(&in_update(2)).await?;
    ledger.record_payment(&in_update(3)).await?;
    let repeats = ledger
        .events(&bot_id("b"), Some(&charge_id_of("c1")))
        .await?
        .into_iter()
        .filter(|e| e.kind == EventKind::PaymentRepeated)
        .count();
    assert_eq!(repeats, 2, "updates 2 and 3, each once");
    Ok(())
}

/// The sales counters the facts read agree with a count of the sold payments, through every
/// move that starts or stops a payment counting: new, repeated, held, released, refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sales_counters_agree_with_a_count_of_the_sold_payments() -> Result<(), LedgerError> {
    use crate::ledger::PaymentStatus::{Delivered, Refunded};
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let charge = format!("c{}", n % 30);
            let held = (n % 30 >= 25).then(|| "held".to_owned());
            let mut p = payment(&charge, held);
            p.user_id = n % 3;
            ledger.record_payment(&p).await.map(|_| ())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("the task ran")?;
    }
    for (charge, to) in [
        ("c1", Refunded),
        ("c2", Delivered),
        ("c25", Delivered),
        ("c26", Refunded),
    ] {
        ledger
            .set_status(&bot_id("b"), &charge_id_of(charge), to, "test")
            .await?;
    }
    let recount = |user: i64, before: Option<(i64, String)>| {
        let reads = ledger.reads.clone();
        async move {
            let (at, charge) = before.unwrap_or((i64::MAX, String::new()));
            let row = sqlx::query(
                "SELECT COUNT(*) AS units, COALESCE(SUM(CASE WHEN user_id = $1 THEN 1 ELSE 0 END), 0) AS mine \
                 FROM payments WHERE bot = 'b' AND product = 'item' \
                 AND status IN ('paid', 'delivered', 'delivery_failed') AND (paid_at, charge_id) < ($2, $3)",
            )
            .bind(user)
            .bind(at)
            .bind(charge)
            .fetch_one(&reads)
            .await?;
            use sqlx::Row;
            Ok::<_, LedgerError>((
                row.try_get::<i64, _>("units")?,
                row.try_get::<i64, _>("mine")?,
            ))
        }
    };
    for user in 0..3 {
        let facts = ledger
            .facts(&bot_id("b"), &product_id("item"), user, None)
            .await?;
        let (units, mine) = recount(user, None).await?;
        assert_eq!(
            (
                i64::from(facts.units_sold),
                i64::from(facts.buyer_purchases)
            ),
            (units, mine)
        );
        assert_eq!(
            units,
            25 - 1 + 1,
            "25 paid, one refunded, one held released"
        );
        for charge in ["c0", "c7", "c25"] {
            let paid_at = ledger
                .payment(&bot_id("b"), &charge_id_of(charge))
                .await?
                .expect("recorded")
                .paid_at;
            let id = charge_id_of(charge);
            let before = Some((paid_at, &id));
            let facts = ledger
                .facts(&bot_id("b"), &product_id("item"), user, before)
                .await?;
            let counted = recount(user, Some((paid_at, charge.to_owned()))).await?;
            assert_eq!(
                (
                    i64::from(facts.units_sold),
                    i64::from(facts.buyer_purchases)
                ),
                counted,
                "before {charge}, user {user}"
            );
        }
    }
    Ok(())
}

/// A row whose id no id can be (written by hand, or by a gateway with other rules) is refused
/// when it is read, naming the column, rather than handed to the shop as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_an_id_no_id_can_be_is_refused_naming_its_column() -> Result<(), LedgerError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = ledger(&dir).await;
    let id = OrderId::generate();
    sqlx::query(
        "INSERT INTO orders (order_id, bot, product, user_id, chat_id, title, price, currency, \
         subscription, created_at) VALUES ($1, 'Not A Bot', 'item', 1, 1, 'Item', 5, 'XTR', 0, 1)",
    )
    .bind(id.as_str())
    .execute(&ledger.pool)
    .await?;
    match ledger.order(&id).await {
        Err(LedgerError::Unreadable { column, .. }) => assert_eq!(column, "bot"),
        other => panic!("a bot id with spaces and capitals was read back: {other:?}"),
    }
    Ok(())
}
