-- Webhook bodies that could not be read as an update. They are acknowledged (so one bad body
-- cannot block a chat's queue at Telegram) and kept here for a person to look at.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    bot         TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    body        TEXT NOT NULL
);
