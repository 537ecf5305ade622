-- The plugin's sales facts count a product's sold payments before a point in time, twice per
-- purchase. The old index (bot, product, status) made each counted payment a table lookup; this
-- one holds only sold payments and every column the count reads, so the count is a range scan of
-- the index alone. Its condition must stay identical to SOLD in gateway/src/ledger/facts.rs.
DROP INDEX payments_by_product;
CREATE INDEX payments_sold ON payments (bot, product, paid_at, charge_id, user_id, status)
    WHERE status IN ('paid', 'delivered', 'delivery_failed');
