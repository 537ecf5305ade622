//! Logging through the host's `log` import.
//!
//! The gateway records these lines with the call (and the fixture runner prints them). It keeps
//! at most 50 lines and 4 KiB per call and drops the rest, so log decisions, not data. Never
//! log the seed or anything derived from it (keys, tokens): logs are not secret.
//!
//! Each level is both a function taking `&str` and a `format!`-style macro:
//! `log::info("approved")` or `log::info!("approved order {}", order.order_id)`.

pub use crate::bindings::starsgate::plugin::log::Level;
pub use crate::{
    __log_debug as debug, __log_error as error, __log_info as info, __log_warn as warn,
};

/// Sends one line to the host at `level`. Off wasm (unit tests on the host) it prints to stderr.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::starsgate::plugin::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

pub fn debug(message: &str) {
    write(Level::Debug, message)
}
pub fn info(message: &str) {
    write(Level::Info, message)
}
pub fn warn(message: &str) {
    write(Level::Warn, message)
}
pub fn error(message: &str) {
    write(Level::Error, message)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)*)) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __log_info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)*)) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)*)) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __log_error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)*)) };
}
