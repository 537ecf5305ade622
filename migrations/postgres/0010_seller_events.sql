-- Seller events (the `[events]` webhooks): a transactional outbox. An event row is written in
-- the same transaction as the ledger change it reports, with its destination fixed at that
-- moment, then sent (and re-sent) from here until the seller's endpoint answers 2xx.

-- Where each bot's events go, as its bot file's `[events]` says: one row per (bot, type). Written
-- by the gateway when it loads or reloads the configuration, read inside every transaction that
-- could report something.
CREATE TABLE event_routes (
    bot        TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('payment.succeeded', 'payment.needs_review', 'delivery.succeeded', 'delivery.failed', 'refund.succeeded', 'subscription.renewed', 'subscription.cancelled', 'subscription.failed', 'subscription.expired')),
    url        TEXT NOT NULL,
    secret_env TEXT NOT NULL,
    PRIMARY KEY (bot, event_type)
);

CREATE TABLE seller_events (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    bot             TEXT    NOT NULL,
    event_type      TEXT    NOT NULL CHECK (event_type IN ('payment.succeeded', 'payment.needs_review', 'delivery.succeeded', 'delivery.failed', 'refund.succeeded', 'subscription.renewed', 'subscription.cancelled', 'subscription.failed', 'subscription.expired')),
    -- What orders the events of one payment (or membership): sent one at a time, in `seq` order.
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    secret_env      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    -- When it was last queued (written, or replayed): retries give up 3 days after this.
    queued_at       BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    failed_at       BIGINT
);
CREATE INDEX seller_events_due ON seller_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX seller_events_by_subject ON seller_events (bot, subject, seq);
CREATE INDEX seller_events_by_time ON seller_events (bot, created_at);
