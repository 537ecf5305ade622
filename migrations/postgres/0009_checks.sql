-- The states and kinds the gateway's enums spell (ledger/status.rs PaymentStatus,
-- ledger/subscriptions.rs SubscriptionState, ledger/events.rs EventKind) are checked by the
-- database too, so a row no enum can read is refused when it is written, not found later.
-- A test in ledger/tests.rs keeps these lists and the enums in step.

ALTER TABLE payments ADD CONSTRAINT payments_status_known CHECK (status IN ('paid', 'delivered', 'delivery_failed', 'needs_review', 'refunded'));
ALTER TABLE payments ADD CONSTRAINT payments_is_renewal_flag CHECK (is_renewal IN (0, 1));
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_state_known CHECK (state IN ('active', 'cancelled', 'expired', 'failed'));
ALTER TABLE events ADD CONSTRAINT events_kind_known CHECK (kind IN ('order_created', 'pre_checkout_approved', 'pre_checkout_rejected', 'payment_recorded', 'payment_repeated', 'payment_flagged', 'delivery_prepared', 'delivery_attempt_failed', 'status_changed', 'refund_recorded', 'refund_hook', 'expiry_hook', 'subscription_changed', 'update_unreadable'));
