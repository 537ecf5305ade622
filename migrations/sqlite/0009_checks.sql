-- The states and kinds the gateway's enums spell (ledger/status.rs PaymentStatus,
-- ledger/subscriptions.rs SubscriptionState, ledger/events.rs EventKind) are checked by the
-- database too, so a row no enum can read is refused when it is written, not found later.
-- A test in ledger/tests.rs keeps these lists and the enums in step.
-- SQLite cannot add a CHECK to a table, so the three tables are rebuilt with their indexes.

CREATE TABLE payments_checked (
    bot                TEXT    NOT NULL,
    charge_id          TEXT    NOT NULL,
    order_id           TEXT,
    payload            TEXT    NOT NULL,
    user_id            INTEGER NOT NULL,
    chat_id            INTEGER NOT NULL,
    product            TEXT,
    amount             INTEGER NOT NULL,
    currency           TEXT    NOT NULL,
    provider_charge_id TEXT,
    status             TEXT    NOT NULL CHECK (status IN ('paid', 'delivered', 'delivery_failed', 'needs_review', 'refunded')),
    review_reason      TEXT,
    plugin_sha256      TEXT,
    paid_at            INTEGER NOT NULL,
    delivered_at       INTEGER,
    refunded_at        INTEGER,
    update_id          INTEGER,
    is_renewal         INTEGER NOT NULL DEFAULT 0 CHECK (is_renewal IN (0, 1)),
    expires_at         INTEGER,
    PRIMARY KEY (bot, charge_id)
);
INSERT INTO payments_checked (bot, charge_id, order_id, payload, user_id, chat_id, product, amount,
    currency, provider_charge_id, status, review_reason, plugin_sha256, paid_at, delivered_at,
    refunded_at, update_id, is_renewal, expires_at)
SELECT bot, charge_id, order_id, payload, user_id, chat_id, product, amount, currency,
    provider_charge_id, status, review_reason, plugin_sha256, paid_at, delivered_at, refunded_at,
    update_id, is_renewal, expires_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_checked RENAME TO payments;
CREATE INDEX payments_by_status ON payments (bot, status);
CREATE INDEX payments_by_time ON payments (paid_at);
CREATE INDEX payments_sold ON payments (bot, product, paid_at, charge_id, user_id, status)
    WHERE status IN ('paid', 'delivered', 'delivery_failed');

CREATE TABLE subscriptions_checked (
    bot             TEXT    NOT NULL,
    user_id         INTEGER NOT NULL,
    product         TEXT    NOT NULL,
    first_charge_id TEXT    NOT NULL,
    last_charge_id  TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('active', 'cancelled', 'expired', 'failed')),
    expires_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (bot, user_id, product)
);
INSERT INTO subscriptions_checked (bot, user_id, product, first_charge_id, last_charge_id, state,
    expires_at, updated_at)
SELECT bot, user_id, product, first_charge_id, last_charge_id, state, expires_at, updated_at
FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_checked RENAME TO subscriptions;
CREATE INDEX subscriptions_due ON subscriptions (bot, expires_at);

CREATE TABLE events_checked (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    bot       TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('order_created', 'pre_checkout_approved', 'pre_checkout_rejected', 'payment_recorded', 'payment_repeated', 'payment_flagged', 'delivery_prepared', 'delivery_attempt_failed', 'status_changed', 'refund_recorded', 'refund_hook', 'expiry_hook', 'subscription_changed', 'update_unreadable')),
    order_id  TEXT,
    charge_id TEXT,
    user_id   INTEGER,
    detail    TEXT
);
INSERT INTO events_checked (id, at, bot, kind, order_id, charge_id, user_id, detail)
SELECT id, at, bot, kind, order_id, charge_id, user_id, detail FROM events;
DROP TABLE events;
ALTER TABLE events_checked RENAME TO events;
CREATE INDEX events_by_charge ON events (bot, charge_id);
