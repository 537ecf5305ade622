//! getMyStarBalance, read as raw JSON: the whole Stars and the optional nanostars, exactly.

use serde::Serialize;
use serde_json::Value;
use teloxide_core::Bot;
use teloxide_core::requests::{JsonRequest, Payload, Request};

use crate::domain::StarAmount;

#[derive(Debug, Clone, Serialize)]
struct GetMyStarBalanceRaw {}

impl Payload for GetMyStarBalanceRaw {
    type Output = Value;
    const NAME: &'static str = "GetMyStarBalance";
}

/// The bot's Star balance now; `Err` is a sentence safe to log.
pub async fn star_balance(api: &Bot) -> Result<StarAmount, String> {
    let answer = JsonRequest::new(api.clone(), GetMyStarBalanceRaw {})
        .send()
        .await
        .map_err(|e| super::describe(&e))?;
    let stars = answer
        .get("amount")
        .and_then(Value::as_i64)
        .ok_or("getMyStarBalance answered without an amount")?;
    let nanostars = answer
        .get("nanostar_amount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Ok(StarAmount { stars, nanostars })
}
