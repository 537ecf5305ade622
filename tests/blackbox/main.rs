//! The black-box suite: the gateway is started as the library's public `App` (or as the real
//! binary, for kill -9 tests) and driven through the Telegram simulator as buyers would. Each
//! test asserts on what the buyer received and what the ledger holds.

mod helpers;

mod admin;
mod bad_input;
mod bots;
mod browser;
mod buyer_flow;
mod crash;
mod dashboard;
mod files;
mod guarantees;
mod hostile;
mod languages;
mod money;
mod operations;
mod paid_media;
mod paid_media_api;
mod plugins;
mod promos;
mod properties;
mod quotes;
mod reload;
mod seller_events;
mod soak;
mod stars;
mod subscriptions;
mod webhook;
