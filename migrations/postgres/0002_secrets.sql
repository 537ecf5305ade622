-- Secrets the gateway generates for itself, shared by every gateway on this ledger. The plugin
-- seed key makes each order's seed unpredictable to buyers and identical on every instance.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX payments_by_product ON payments (bot, product, status);
