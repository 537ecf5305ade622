-- The sender asks for due events one endpoint URL at a time, and only for URLs with room for
-- another request, so an endpoint that hangs or is down (its pending events piling up) costs
-- nothing per poll: the index is walked once per distinct URL, then within a URL in due order.
DROP INDEX seller_events_due;
CREATE INDEX seller_events_due_by_url ON seller_events (url, next_attempt_at) WHERE status = 'pending';
