//! Fixtures for `starsgate plugin test`: one JSON file per case, run under production limits,
//! with the same output checks the gateway applies. The format is documented in the README
//! ("Write a plugin") and used by `examples/plugin-template/fixtures/`.

use serde::{Deserialize, Serialize};

use super::{
    Call, CallContext, Decision, Delivery, Facts, Item, OrderView, PaymentView, Plugin,
    PluginError, Quote, QuoteRequest, validate_delivery, validate_quote, validate_reject_message,
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
    /// What `quote` is asked (hook "quote" only): list price, subscription, promo.
    #[serde(default)]
    pub quote: QuoteRequest,
    pub expect: Expect,
}

/// A hook as the WIT names it (`pre-checkout`); the Rust method's spelling (`pre_checkout`) is
/// accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    #[serde(alias = "pre_checkout")]
    #[value(alias = "pre_checkout")]
    PreCheckout,
    Deliver,
    Refunded,
    /// Contract 0.2's price hook.
    Quote,
}

impl Hook {
    /// The WIT name, as fixtures and `starsgate plugin test` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Hook::PreCheckout => "pre-checkout",
            Hook::Deliver => "deliver",
            Hook::Refunded => "refunded",
            Hook::Quote => "quote",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
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
            // What Telegram may send: many users have no language_code at all.
            language_code: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
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
    /// `quote` answers this price (whole Stars).
    pub price: Option<u32>,
    /// `quote` keeps the list (or promo) price.
    pub keep: Option<bool>,
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
            e.price.is_some(),
            e.keep.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(
                "expect: give exactly one of decision, reject_contains, items_contain, error, ok, price, keep"
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

/// One call's inputs, as a fixture, `starsgate plugin run` or a replay from the ledger gives them.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub hook: Hook,
    pub ctx: CallContext,
    pub order: OrderView,
    pub payment: PaymentView,
    /// Used by the `quote` hook only.
    pub quote: QuoteRequest,
}

/// What one call produced: the output the way every plugin command prints it, the delivery
/// itself (to compare byte for byte), and what the call cost.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The decision (`approve`, `reject "…"`), the delivery's items, or `ok`; `Err` for a
    /// plugin failure or an output the gateway would refuse.
    pub output: Result<String, RunError>,
    pub delivery: Option<Delivery>,
    pub fuel_used: u64,
    pub peak_memory: usize,
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("error: {0}")]
    Plugin(PluginError),
    #[error("invalid output: {0}")]
    Invalid(String),
}

impl Fixture {
    /// The call this fixture describes.
    pub fn input(&self) -> Input {
        Input {
            hook: self.hook,
            ctx: CallContext {
                config: serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".into()),
                now_unix: self.now_unix,
                seed: self.seed,
                facts: self.facts,
            },
            order: self.order.view(),
            payment: self.payment.view(self.order.amount, self.now_unix),
            quote: self.quote.clone(),
        }
    }
}

impl FixtureOrder {
    pub fn view(&self) -> OrderView {
        OrderView {
            order_id: self.order_id.clone(),
            bot_id: self.bot_id.clone(),
            product_id: self.product_id.clone(),
            amount: self.amount,
            currency: "XTR".into(),
            user_id: self.user_id,
            language_code: self.language_code.clone(),
        }
    }
}

impl FixturePayment {
    pub fn view(&self, amount: u32, now_unix: i64) -> PaymentView {
        PaymentView {
            charge_id: self.charge_id.clone(),
            paid_at_unix: self.paid_at_unix.unwrap_or(now_unix),
            amount,
            is_renewal: self.is_renewal,
            expires_at_unix: self.expires_at_unix,
        }
    }
}

/// Makes the call, with the output checks the gateway applies.
pub fn invoke(plugin: &dyn Plugin, input: &Input) -> Ran {
    let (ctx, order, payment) = (&input.ctx, &input.order, &input.payment);
    match input.hook {
        Hook::PreCheckout => {
            let call = plugin.pre_checkout(ctx, order);
            let output = call
                .result
                .clone()
                .map_err(RunError::Plugin)
                .and_then(|d| match d {
                    Decision::Approve => Ok("approve".to_owned()),
                    Decision::Reject(m) => validate_reject_message(&m)
                        .map(|()| format!("reject {m:?}"))
                        .map_err(RunError::Invalid),
                });
            ran(call, output, None)
        }
        Hook::Deliver => {
            let call = plugin.deliver(ctx, order, payment);
            let delivery = call.result.clone().ok();
            let output = call.result.clone().map_err(RunError::Plugin).and_then(|d| {
                validate_delivery(&d).map_err(RunError::Invalid)?;
                Ok(describe(&d))
            });
            ran(call, output, delivery)
        }
        Hook::Refunded => {
            let call = plugin.refunded(ctx, order, payment);
            let output = call
                .result
                .clone()
                .map(|()| "ok".to_owned())
                .map_err(RunError::Plugin);
            ran(call, output, None)
        }
        Hook::Quote if !plugin.quotes() => Ran {
            output: Err(RunError::Invalid(
                "the plugin has no quote hook (contract 0.2's pricing export)".into(),
            )),
            delivery: None,
            fuel_used: 0,
            peak_memory: 0,
            logs: Vec::new(),
        },
        Hook::Quote => {
            let call = plugin.quote(ctx, order, &input.quote);
            let output = call.result.clone().map_err(RunError::Plugin).and_then(|q| {
                validate_quote(&q, input.quote.subscription).map_err(RunError::Invalid)?;
                Ok(match q {
                    Quote::Keep => "keep".to_owned(),
                    Quote::Price { amount, label } => format!("price {amount} {label:?}"),
                    Quote::Refuse(m) => format!("reject {m:?}"),
                })
            });
            ran(call, output, None)
        }
    }
}

fn ran<T>(call: Call<T>, output: Result<String, RunError>, delivery: Option<Delivery>) -> Ran {
    Ran {
        output,
        delivery,
        fuel_used: call.fuel_used,
        peak_memory: call.peak_memory,
        logs: call.logs,
    }
}

/// A delivery's items, readable: `text "…"; link URL LABEL; document FILE CAPTION`.
pub fn describe(d: &Delivery) -> String {
    d.items
        .iter()
        .map(|i| match i {
            Item::Text { text } => format!("text {text:?}"),
            Item::Link { url, label } => format!("link {url} {}", label.as_deref().unwrap_or("")),
            Item::Media(m) => format!(
                "{} {} {}",
                m.kind.as_str(),
                m.file,
                m.caption.as_deref().unwrap_or("")
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn run(plugin: &dyn Plugin, f: &Fixture) -> Outcome {
    judge(invoke(plugin, &f.input()), f)
}

fn judge(ran: Ran, f: &Fixture) -> Outcome {
    let e = &f.expect;
    let (output, failure) = match &ran.output {
        Err(RunError::Plugin(err)) => {
            let output = format!("error: {err}");
            let failure = (e.error != Some(true)).then(|| format!("expected success, got {err}"));
            (output, failure)
        }
        Err(RunError::Invalid(invalid)) => (
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
            } else if let Some(want) = e.price {
                (!text.starts_with(&format!("price {want} ")))
                    .then(|| format!("expected the price {want}"))
            } else if e.keep.is_some() && text != "keep" {
                Some("expected keep (the list or promo price)".to_owned())
            } else if let Some(wants) = &e.items_contain {
                wants
                    .iter()
                    .find(|w| !text.contains(w.as_str()))
                    .map(|w| format!("expected an item containing {w:?}"))
            } else {
                None
            };
            (text.clone(), failure)
        }
    };
    Outcome {
        passed: failure.is_none(),
        output,
        failure,
        fuel_used: ran.fuel_used,
        peak_memory: ran.peak_memory,
        logs: ran.logs,
    }
}
