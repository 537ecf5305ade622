//! Building the multi-row statements that let one statement write a whole group of commands of
//! one kind (see `writer`): numbered placeholders, and which rows a `RETURNING` clause returned.

use super::LedgerError;
use super::conn::{Column, Row};

/// For each row's key `(bot, id)` in order, whether the statement returned it (as its first two
/// columns): true for the first row with a returned key, false for any repeat of it in the same
/// statement (a redelivery racing the original is new only once).
pub(super) fn first_returned<K>(
    returned: &[Row],
    keys: impl Iterator<Item = (String, K)>,
) -> Result<Vec<bool>, LedgerError>
where
    K: std::hash::Hash + Eq + Column,
{
    let mut set = std::collections::HashSet::with_capacity(returned.len());
    for r in returned {
        set.insert((r.try_get::<String, _>(0)?, r.try_get::<K, _>(1)?));
    }
    Ok(keys.map(|k| set.remove(&k)).collect())
}

/// `($first, …), (…)`: `rows` groups of `columns` numbered placeholders.
pub(super) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(first + r * columns + c).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_rows_after_the_leading_parameters() {
        assert_eq!(placeholders(1, 2, 1), "($1, $2)");
        assert_eq!(placeholders(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
    }
}
