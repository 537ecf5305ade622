//! starsgate: many Telegram Stars stores in one process.
//!
//! The modules follow an update's path through the gateway:
//! [`ingest`] (updates in, stored before they are acknowledged) → [`shop`] (the buyer flow:
//! catalogue, invoices, pre-checkout, payments) → [`ledger`] (the one record of money) →
//! [`plugins`] (per-product decision and delivery) → [`outbox`] (delivery, retried until sent) →
//! [`telegram`] (the Bot API client). [`app`] wires one runtime per bot; [`cli`] is the command line.

pub mod admin;
pub mod app;
#[cfg(feature = "sim")]
pub mod bench;
pub mod brief;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crashpoint;
#[cfg(feature = "sim")]
pub mod demo;
pub mod domain;
pub mod files;
pub mod handoff;
pub mod holder;
pub mod i18n;
pub mod ingest;
pub mod ledger;
pub mod outbox;
pub mod paid_media;
pub mod plugins;
pub mod pricing;
pub mod reconcile;
pub mod registry;
pub mod seller_events;
pub mod shop;
pub mod telegram;
pub mod telemetry;

pub use app::App;
