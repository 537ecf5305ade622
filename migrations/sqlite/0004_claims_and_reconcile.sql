-- Several gateways may share one ledger. A delivery is claimed before it is sent (claimed_by,
-- claimed_until): only the claimant sends it, and a claim left by a dead process expires.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN claimed_until INTEGER;

-- Reconciliation reads getStarTransactions by offset; the watermark is how far it got per bot.
CREATE TABLE reconcile_state (
    bot         TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Which gateway runs each bot (polls it, processes its updates, sends its deliveries). The
-- holder renews its lease; when a holder dies its lease expires and another gateway takes over.
CREATE TABLE bot_leases (
    bot    TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);
