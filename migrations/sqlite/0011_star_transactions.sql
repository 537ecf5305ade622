-- Telegram's record of the bot's Stars (getStarTransactions), each transaction classified by its
-- partner, as reconciliation reads it; and the bot's last known balance (getMyStarBalance).
-- Amounts are exact: whole Stars and nanostars (0..999999999) as integers, never floats.

CREATE TABLE star_transactions (
    bot              TEXT    NOT NULL,
    tx_id            TEXT    NOT NULL,
    -- "in" (a source) or "out" (a receiver). A refund has the id of the payment it returns.
    direction        TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    class            TEXT    NOT NULL CHECK (class IN ('invoice_payment', 'paid_media_payment', 'gift_purchase', 'premium_purchase', 'business_account_transfer', 'user_other', 'refund', 'unexplained_outgoing', 'affiliate_program', 'chat', 'withdrawal', 'telegram_ads', 'telegram_api', 'other', 'unknown')),
    amount           INTEGER NOT NULL,
    nanostar_amount  INTEGER NOT NULL,
    -- The affiliate's commission on this sale (TransactionPartnerUser.affiliate), if any.
    commission       INTEGER NOT NULL,
    commission_nano  INTEGER NOT NULL,
    user_id          INTEGER,
    -- Why a person should look at it (an outgoing transaction none of our refunds explains).
    flagged          TEXT,
    date             INTEGER NOT NULL,
    raw              TEXT    NOT NULL,
    recorded_at      INTEGER NOT NULL,
    PRIMARY KEY (bot, tx_id, direction)
);

CREATE TABLE star_balances (
    bot             TEXT    PRIMARY KEY,
    amount          INTEGER NOT NULL,
    nanostar_amount INTEGER NOT NULL,
    checked_at      INTEGER NOT NULL
);

-- Refunds this gateway asked Telegram for, written before the request: an outgoing transaction
-- to a buyer is explained by one of these, or it is a chargeback or a refund made elsewhere.
CREATE TABLE refund_requests (
    bot          TEXT    NOT NULL,
    charge_id    TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (bot, charge_id)
);
