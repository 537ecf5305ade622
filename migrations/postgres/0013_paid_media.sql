-- Paid media posts (sendPaidMedia) and their purchases. A post is recorded before it is sent, so
-- a purchase can always find it; its payload is the post id. A purchase is recorded once per
-- `purchased_paid_media` update (a redelivered update changes nothing); its charge id and amount
-- are Telegram's, from the `paid_media_payment` StarTransaction that reconciliation links to it.

CREATE TABLE paid_media_posts (
    bot         TEXT    NOT NULL,
    post_id     TEXT    NOT NULL,
    -- A chat id or a public channel's @username, as the seller named it.
    chat        TEXT    NOT NULL,
    stars       BIGINT  NOT NULL CHECK (stars BETWEEN 1 AND 25000),
    caption     TEXT,
    -- The InputPaidMedia sent, as a JSON array.
    media       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    message_id  BIGINT,
    -- Telegram's refusal, for a failed post.
    error       TEXT,
    -- Who posted it (the command line, the admin API).
    source      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (bot, post_id)
);

CREATE TABLE paid_media_purchases (
    bot           TEXT    NOT NULL,
    -- NULL when the payload is not one of this bot's posts (kept, and shown for review).
    post_id       TEXT,
    payload       TEXT    NOT NULL,
    user_id       BIGINT  NOT NULL,
    -- NULL for a purchase that reconciliation found without its update.
    update_id     BIGINT,
    -- NULL until reconciliation links the StarTransaction.
    charge_id     TEXT,
    amount        BIGINT,
    nanostar_amount BIGINT,
    purchased_at  BIGINT  NOT NULL,
    linked_at     BIGINT
);
CREATE UNIQUE INDEX paid_media_purchases_update ON paid_media_purchases (bot, update_id);
CREATE UNIQUE INDEX paid_media_purchases_charge ON paid_media_purchases (bot, charge_id);
CREATE INDEX paid_media_purchases_buyer ON paid_media_purchases (bot, payload, user_id);
CREATE INDEX paid_media_purchases_time ON paid_media_purchases (purchased_at);
