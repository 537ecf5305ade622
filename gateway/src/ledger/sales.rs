//! How many of each product are sold, in all and to each buyer: counters kept in the transaction
//! of every change that makes a payment count as sold or stop counting (a new paid payment, a
//! refund, a held payment released).
//!
//! Why counters: the facts a plugin is given (`facts.rs`) are read twice per purchase, once on
//! the pre-checkout's deadline. Counting the sold payments each time read every sale the product
//! ever had, a cost that grew with the store's history; a counter is one row.
//!
//! "Sold" is [`PaymentStatus::is_sold`], spelled in SQL as `facts::SOLD`; migration 0016 fills the
//! counters from the payments already recorded.

use std::collections::BTreeMap;

use super::LedgerError;
use super::conn::{Conn, query};
use super::multirow::placeholders;
use super::status::PaymentStatus;

/// One payment starting (`+1`) or ceasing (`-1`) to count as sold.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sale<'a> {
    pub bot: &'a str,
    pub product: &'a str,
    pub user_id: i64,
    pub units: i64,
}

impl<'a> Sale<'a> {
    /// The change to the counters when a payment of `product` moves from `from` (`None`: it is
    /// new) to `to`; `None` when it counts the same before and after, or sells no product.
    pub fn of_change(
        bot: &'a str,
        product: Option<&'a str>,
        user_id: i64,
        from: Option<PaymentStatus>,
        to: PaymentStatus,
    ) -> Option<Self> {
        let before = from.is_some_and(PaymentStatus::is_sold);
        let units = i64::from(to.is_sold()) - i64::from(before);
        Some(Self {
            bot,
            product: product?,
            user_id,
            units,
        })
        .filter(|s| s.units != 0)
    }
}

/// Applies `sales` to the counters: one statement per table, rows in key order (so two
/// PostgreSQL writers updating the same products lock them in the same order).
pub(super) async fn count(conn: &mut Conn, sales: &[Sale<'_>]) -> Result<(), LedgerError> {
    let mut products = BTreeMap::<(&str, &str), i64>::new();
    let mut buyers = BTreeMap::<(&str, &str, i64), i64>::new();
    for s in sales {
        *products.entry((s.bot, s.product)).or_default() += s.units;
        *buyers.entry((s.bot, s.product, s.user_id)).or_default() += s.units;
    }
    products.retain(|_, units| *units != 0);
    buyers.retain(|_, units| *units != 0);
    if !products.is_empty() {
        let sql = format!(
            "INSERT INTO product_sales (bot, product, units) VALUES {} \
             ON CONFLICT (bot, product) DO UPDATE SET units = product_sales.units + excluded.units",
            placeholders(products.len(), 3, 1)
        );
        let mut q = query(&sql);
        for ((bot, product), units) in &products {
            q = q.bind(*bot).bind(*product).bind(*units);
        }
        q.execute(&mut *conn).await?;
    }
    if !buyers.is_empty() {
        let sql = format!(
            "INSERT INTO buyer_sales (bot, product, user_id, units) VALUES {} \
             ON CONFLICT (bot, product, user_id) DO UPDATE SET units = buyer_sales.units + excluded.units",
            placeholders(buyers.len(), 4, 1)
        );
        let mut q = query(&sql);
        for ((bot, product, user_id), units) in &buyers {
            q = q.bind(*bot).bind(*product).bind(*user_id).bind(*units);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Sale;
    use crate::ledger::PaymentStatus::{self, *};

    fn units(from: Option<PaymentStatus>, to: PaymentStatus) -> i64 {
        Sale::of_change("b", Some("p"), 1, from, to).map_or(0, |s| s.units)
    }

    #[test]
    fn a_payment_counts_while_it_is_sold_and_only_then() {
        assert_eq!(units(None, Paid), 1);
        assert_eq!(units(None, NeedsReview), 0);
        assert_eq!(units(Some(Paid), Delivered), 0);
        assert_eq!(units(Some(Paid), DeliveryFailed), 0);
        assert_eq!(units(Some(Paid), NeedsReview), -1);
        assert_eq!(units(Some(NeedsReview), Delivered), 1);
        assert_eq!(units(Some(Delivered), Refunded), -1);
        assert_eq!(units(Some(NeedsReview), Refunded), 0);
        assert!(
            Sale::of_change("b", None, 1, None, Paid).is_none(),
            "no product, no count"
        );
    }
}
