-- Star subscriptions: one per (bot, buyer, product). Every charge (first payment and each
-- renewal) is an ordinary payment row with the same exactly-once key; these columns say which
-- kind it was and until when it pays.
ALTER TABLE payments ADD COLUMN is_renewal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN expires_at INTEGER;

CREATE TABLE subscriptions (
    bot             TEXT NOT NULL,
    user_id         INTEGER NOT NULL,
    product         TEXT NOT NULL,
    first_charge_id TEXT NOT NULL,
    last_charge_id  TEXT NOT NULL,
    -- active | cancelled (renewal off, still running) | expired | failed
    state           TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (bot, user_id, product)
);
