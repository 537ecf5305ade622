//! The gateway's ids as the ledger stores them: text in, parsed domain types out.
//!
//! Why: the ledger's callers hold `BotId`, `ChargeId`, `OrderId` and `ProductId`, parsed once at
//! the edge. A row read back is parsed again here, so a value that no id can be (a row written by
//! hand, or by a newer gateway with other rules) is refused with the column's name at the ledger,
//! not carried as a bare string into the shop.

use crate::domain::{BotId, ChargeId, Invalid, OrderId, ProductId};

use super::LedgerError;
use super::conn::Fields;

/// An id kept in a text column.
pub(super) trait StoredId: Sized {
    fn parse_stored(raw: &str) -> Result<Self, Invalid>;
}

impl StoredId for BotId {
    fn parse_stored(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl StoredId for ProductId {
    fn parse_stored(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl StoredId for ChargeId {
    fn parse_stored(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl StoredId for OrderId {
    fn parse_stored(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw).ok_or_else(|| Invalid(format!("{raw:?} is not an order id")))
    }
}

/// Reads the id in `column`.
pub(super) fn id<T: StoredId>(row: &impl Fields, column: &'static str) -> Result<T, LedgerError> {
    let raw: String = row.try_get(column)?;
    T::parse_stored(&raw).map_err(|why| LedgerError::Unreadable { column, why })
}

/// Reads the id in `column`, which may be NULL.
pub(super) fn optional_id<T: StoredId>(
    row: &impl Fields,
    column: &'static str,
) -> Result<Option<T>, LedgerError> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|raw| T::parse_stored(&raw))
        .transpose()
        .map_err(|why| LedgerError::Unreadable { column, why })
}
