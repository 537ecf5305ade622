-- Prices other than the list price (issue 19): an order and its payments keep the list price,
-- the promo code the buyer applied and where the discount came from, so reports can show what
-- each code cost and earned. The price charged stays in orders.price and payments.amount.
-- Rows written before this migration have NULL list_price: their list price is what was charged.
ALTER TABLE orders ADD COLUMN list_price BIGINT;
ALTER TABLE orders ADD COLUMN promo_code TEXT;
ALTER TABLE orders ADD COLUMN discount_source TEXT CHECK (discount_source IN ('promo', 'plugin'));
ALTER TABLE payments ADD COLUMN list_price BIGINT;
ALTER TABLE payments ADD COLUMN promo_code TEXT;
ALTER TABLE payments ADD COLUMN discount_source TEXT CHECK (discount_source IN ('promo', 'plugin'));

-- A code's uses are counted on paid payments; this index holds only those with a code.
CREATE INDEX payments_by_promo ON payments (bot, promo_code, user_id, status)
    WHERE promo_code IS NOT NULL;

-- A use held for an order approved at pre-checkout and not yet paid: Telegram pays within
-- seconds of the approval, and until then no other buyer may take the same last use. A hold
-- counts while it is recent and its order has no payment (ledger/promos.rs).
CREATE TABLE promo_holds (
    bot        TEXT    NOT NULL,
    order_id   TEXT    NOT NULL,
    promo_code TEXT    NOT NULL,
    user_id    BIGINT  NOT NULL,
    held_at    BIGINT  NOT NULL,
    PRIMARY KEY (bot, order_id)
);
CREATE INDEX promo_holds_by_code ON promo_holds (bot, promo_code, held_at);
