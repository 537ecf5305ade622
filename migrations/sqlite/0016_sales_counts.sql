-- How many of each product are sold, in all and to each buyer (ledger/sales.rs). The plugin's
-- facts read these two rows instead of counting every sold payment of the product, a count that
-- grew with the store's history. The writer changes them in the transaction of every payment that
-- starts or stops counting as sold; here they start from the payments already recorded. "Sold"
-- is the condition of the payments_sold index (migration 0008) and SOLD in ledger/facts.rs.
CREATE TABLE product_sales (
    bot     TEXT    NOT NULL,
    product TEXT    NOT NULL,
    units   INTEGER NOT NULL,
    PRIMARY KEY (bot, product)
);
CREATE TABLE buyer_sales (
    bot     TEXT    NOT NULL,
    product TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    units   INTEGER NOT NULL,
    PRIMARY KEY (bot, product, user_id)
);
INSERT INTO product_sales (bot, product, units)
    SELECT bot, product, COUNT(*) FROM payments
    WHERE product IS NOT NULL AND status IN ('paid', 'delivered', 'delivery_failed')
    GROUP BY bot, product;
INSERT INTO buyer_sales (bot, product, user_id, units)
    SELECT bot, product, user_id, COUNT(*) FROM payments
    WHERE product IS NOT NULL AND status IN ('paid', 'delivered', 'delivery_failed')
    GROUP BY bot, product, user_id;
