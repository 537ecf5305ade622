-- The ledger. Times are unix milliseconds (UTC). Payments, refunds and events are history:
-- rows are added, and a payment's status only moves forward through the checked transitions in
-- gateway/src/ledger/status.rs; nothing paid is ever deleted.

-- The inbox: every update, stored before Telegram is told it was received.
CREATE TABLE updates (
    bot          TEXT    NOT NULL,
    update_id    BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    processed_at BIGINT,
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
    user_id       BIGINT  NOT NULL,
    chat_id       BIGINT  NOT NULL,
    title         TEXT    NOT NULL,
    price         BIGINT  NOT NULL,
    currency      TEXT    NOT NULL,
    subscription  BIGINT  NOT NULL,
    plugin_sha256 TEXT,
    created_at    BIGINT  NOT NULL
);

-- One row per Telegram charge: the exactly-once key.
CREATE TABLE payments (
    bot                TEXT    NOT NULL,
    charge_id          TEXT    NOT NULL,
    order_id           TEXT,
    payload            TEXT    NOT NULL,
    user_id            BIGINT  NOT NULL,
    chat_id            BIGINT  NOT NULL,
    product            TEXT,
    amount             BIGINT  NOT NULL,
    currency           TEXT    NOT NULL,
    provider_charge_id TEXT,
    status             TEXT    NOT NULL,
    review_reason      TEXT,
    plugin_sha256      TEXT,
    paid_at            BIGINT  NOT NULL,
    delivered_at       BIGINT,
    refunded_at        BIGINT,
    update_id          BIGINT,
    PRIMARY KEY (bot, charge_id)
);
CREATE INDEX payments_by_status ON payments (bot, status);
CREATE INDEX payments_by_time ON payments (paid_at);

-- The delivery outbox: content generated once, then sent (and re-sent) from here.
CREATE TABLE deliveries (
    bot             TEXT    NOT NULL,
    charge_id       TEXT    NOT NULL,
    chat_id         BIGINT  NOT NULL,
    content         TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    PRIMARY KEY (bot, charge_id)
);
CREATE INDEX deliveries_due ON deliveries (bot, next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE refunds (
    bot          TEXT    NOT NULL,
    charge_id    TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    recorded_at  BIGINT  NOT NULL,
    PRIMARY KEY (bot, charge_id)
);

-- Append-only history of everything that happened to orders and payments.
CREATE TABLE events (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT  NOT NULL,
    bot       TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    order_id  TEXT,
    charge_id TEXT,
    user_id   BIGINT,
    detail    TEXT
);
CREATE INDEX events_by_charge ON events (bot, charge_id);
