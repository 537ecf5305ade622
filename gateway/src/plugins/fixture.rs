//! Fixtures for `starsgate plugin test`: one JSON file per case, run under production limits,
//! with the same output checks the gateway applies. The format is documented in the README
//! ("Write a plugin") and used by `examples/plugin-template/fixtures/`.

use serde::Deserialize;

use super::{
    Call, CallContext, Decision, Facts, Item, OrderView, PaymentView, Plugin, validate_delivery,
    validate_reject_message,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub name: Option<String>,
    pub hook: Hook,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    #[serde(default)]
    pub facts: Facts,
    #[serde(default = "one")]
    pub seed: u64,
    #[serde(default = "default_now")]
    pub now_unix: i64,
    #[serde(default)]
    pub order: FixtureOrder,
    #[serde(default)]
    pub payment: FixturePayment,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    PreCheckout,
    Deliver,
    Refunded,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixtureOrder {
    pub order_id: String,
    pub bot_id: String,
    pub product_id: String,
    pub amount: u32,
    pub user_id: i64,
    pub language_code: Option<String>,
}

impl Default for FixtureOrder {
    fn default() -> Self {
        Self {
            order_id: "fixtureorder00000000".into(),
            bot_id: "fixture-bot".into(),
            product_id: "fixture-product".into(),
            amount: 50,
            user_id: 5001,
            language_code: Some("en".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixturePayment {
    pub charge_id: String,
    pub paid_at_unix: Option<i64>,
    pub is_renewal: bool,
    pub expires_at_unix: Option<i64>,
}

impl Default for FixturePayment {
    fn default() -> Self {
        Self {
            charge_id: "stx-fixture-charge".into(),
            paid_at_unix: None,
            is_renewal: false,
            expires_at_unix: None,
        }
    }
}

/// Exactly one expectation per fixture.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub decision: Option<String>,
    pub reject_contains: Option<String>,
    pub items_contain: Option<Vec<String>>,
    pub error: Option<bool>,
    pub ok: Option<bool>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}
fn one() -> u64 {
    1
}
fn default_now() -> i64 {
    1_780_000_000
}

impl Fixture {
    pub fn parse(text: &str) -> Result<Self, String> {
        let f: Fixture = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let e = &f.expect;
        let set = [
            e.decision.is_some(),
            e.reject_contains.is_some(),
            e.items_contain.is_some(),
            e.error.is_some(),
            e.ok.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(
                "expect: give exactly one of decision, reject_contains, items_contain, error, ok"
                    .into(),
            );
        }
        if let Some(d) = &e.decision
            && d != "approve"
        {
            return Err(format!(
                "expect.decision: only \"approve\" is valid (use reject_contains for rejections), not {d:?}"
            ));
        }
        Ok(f)
    }
}

/// What one fixture did.
#[derive(Debug)]
pub struct Outcome {
    pub passed: bool,
    /// The decision or delivery, readable.
    pub output: String,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    pub fuel_used: u64,
    pub peak_memory: usize,
    pub logs: Vec<String>,
}

pub fn run(plugin: &dyn Plugin, f: &Fixture) -> Outcome {
    let ctx = CallContext {
        config: serde_json::to_string(&f.config).unwrap_or_else(|_| "{}".into()),
        now_unix: f.now_unix,
        seed: f.seed,
        facts: f.facts,
    };
    let order = OrderView {
        order_id: f.order.order_id.clone(),
        bot_id: f.order.bot_id.clone(),
        product_id: f.order.product_id.clone(),
        amount: f.order.amount,
        currency: "XTR".into(),
        user_id: f.order.user_id,
        language_code: f.order.language_code.clone(),
    };
    let payment = PaymentView {
        charge_id: f.payment.charge_id.clone(),
        paid_at_unix: f.payment.paid_at_unix.unwrap_or(f.now_unix),
        amount: f.order.amount,
        is_renewal: f.payment.is_renewal,
        expires_at_unix: f.payment.expires_at_unix,
    };
    match f.hook {
        Hook::PreCheckout => judge(plugin.pre_checkout(&ctx, &order), f, |d| match d {
            Decision::Approve => Ok("approve".to_owned()),
            Decision::Reject(m) => validate_reject_message(m).map(|()| format!("reject {m:?}")),
        }),
        Hook::Deliver => judge(plugin.deliver(&ctx, &order, &payment), f, |d| {
            validate_delivery(d)?;
            Ok(d.items
                .iter()
                .map(|i| match i {
                    Item::Text { text } => format!("text {text:?}"),
                    Item::Link { url, label } => {
                        format!("link {url} {}", label.as_deref().unwrap_or(""))
                    }
                })
                .collect::<Vec<_>>()
                .join("; "))
        }),
        Hook::Refunded => judge(plugin.refunded(&ctx, &order, &payment), f, |()| {
            Ok("ok".to_owned())
        }),
    }
}

fn judge<T>(
    call: Call<T>,
    f: &Fixture,
    describe: impl Fn(&T) -> Result<String, String>,
) -> Outcome {
    let e = &f.expect;
    let (output, failure) = match &call.result {
        Err(err) => {
            let output = format!("error: {err}");
            let failure = (e.error != Some(true)).then(|| format!("expected success, got {err}"));
            (output, failure)
        }
        Ok(value) => match describe(value) {
            Err(invalid) => (
                format!("invalid output: {invalid}"),
                Some(format!("invalid output: {invalid}")),
            ),
            Ok(text) => {
                let failure = if e.error == Some(true) {
                    Some("expected an error".to_owned())
                } else if e.decision.is_some() && text != "approve" {
                    Some("expected approve".to_owned())
                } else if let Some(want) = &e.reject_contains {
                    (!(text.starts_with("reject") && text.contains(want.as_str())))
                        .then(|| format!("expected a rejection containing {want:?}"))
                } else if let Some(wants) = &e.items_contain {
                    wants
                        .iter()
                        .find(|w| !text.contains(w.as_str()))
                        .map(|w| format!("expected an item containing {w:?}"))
                } else {
                    None
                };
                (text, failure)
            }
        },
    };
    Outcome {
        passed: failure.is_none(),
        output,
        failure,
        fuel_used: call.fuel_used,
        peak_memory: call.peak_memory,
        logs: call.logs,
    }
}
