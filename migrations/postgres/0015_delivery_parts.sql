-- A delivery with files is several messages (the text, then one per file). The outbox counts
-- the parts Telegram accepted, so a retry after a failure or a crash sends only the rest.
ALTER TABLE deliveries ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
