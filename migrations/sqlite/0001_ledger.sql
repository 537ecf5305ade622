-- The ledger. Times are unix milliseconds (UTC). Payments, refunds and events are history:
-- rows are added, and a payment's status only moves forward through the checked transitions in
-- gateway/src/ledger/status.rs; nothing paid is ever deleted.

-- The inbox: every update, stored before Telegram is told it was received.
CREATE TABLE updates (
    bot          TEXT    NOT NULL,
    update_id    INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    outcome      TEXT,
    PRIMARY KEY (bot, update_id)
);
CREATE INDEX updates_pending ON updates (bot, update_id) WHERE processed_at IS NULL;

-- One row per invoice sent. The order id is the invoice payload; an invoice can be paid many
-- times (forwarded, paid twice), so payments point at orders, not the other way round.
CREATE TABLE orders (
    order_id      TEXT    PRIMARY KEY,
    bot           TEXT    NOT NULL,
    product       TEXT    NOT NULL,
    user_id       INTEGER NOT NULL,
    chat_id       INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    price         INTEGER NOT NULL,
    currency      TEXT    NOT NULL,
    subscription  INTEGER NOT NULL,
    plugin_sha256 TEXT,
    created_at    INTEGER NOT NULL
);

-- One row per Telegram charge: the exactly-once key.
CREATE TABLE payments (
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
    status             TEXT    NOT NULL,
    review_reason      TEXT,
    plugin_sha256      TEXT,
    paid_at            INTEGER NOT NULL,
    delivered_at       INTEGER,
    refunded_at        INTEGER,
    update_id          INTEGER,
    PRIMARY KEY (bot, charge_id)
);
CREATE INDEX payments_by_status ON payments (bot, status);
CREATE INDEX payments_by_time ON payments (paid_at);

-- The delivery outbox: content generated once, then sent (and re-sent) from here.
CREATE TABLE deliveries (
    bot             TEXT    NOT NULL,
    charge_id       TEXT    NOT NULL,
    chat_id         INTEGER NOT NULL,
    content         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    failed_at       INTEGER,
    PRIMARY KEY (bot, charge_id)
);
CREATE INDEX deliveries_due ON deliveries (bot, next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE refunds (
    bot          TEXT    NOT NULL,
    charge_id    TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (bot, charge_id)
);

-- Append-only history of everything that happened to orders and payments.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    bot       TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    order_id  TEXT,
    charge_id TEXT,
    user_id   INTEGER,
    detail    TEXT
);
CREATE INDEX events_by_charge ON events (bot, charge_id);
