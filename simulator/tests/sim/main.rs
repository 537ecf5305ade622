//! The simulator, driven over real HTTP the way the gateway drives it.

mod api;
mod common;
mod control;
mod faults;
mod invoices;
mod messages;
mod paid_media;
mod payments;
mod subscriptions;
mod teloxide;
mod updates;
mod webhook;
