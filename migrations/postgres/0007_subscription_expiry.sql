-- The expiry sweep looks for a bot's memberships whose paid period (plus grace) has ended.
CREATE INDEX subscriptions_due ON subscriptions (bot, expires_at);
