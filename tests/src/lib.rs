//! Test-only crate; see `blackbox/`.
