-- The product's [product.config] as it was when the invoice was sent: an order is served by the
-- plugin version and config it was sold with, even after the seller changes either.
ALTER TABLE orders ADD COLUMN product_config TEXT;
