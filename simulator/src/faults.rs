//! Injected misbehaviour, consumed one call at a time.
//!
//! Faults are checked before a call is handled, because that is where the real failures sit:
//! a 429 or a 5xx means Telegram did nothing, while a dropped response means it did everything
//! and the client cannot tell.

use crate::types::Fault;

#[derive(Debug, Clone)]
pub(crate) struct FaultSlot {
    /// Lower-case method name, or "*".
    pub method: String,
    pub fault: Fault,
    pub remaining: u32,
}

impl FaultSlot {
    pub(crate) fn new(method: &str, fault: Fault) -> Self {
        FaultSlot {
            method: method.to_ascii_lowercase(),
            remaining: fault.times(),
            fault,
        }
    }
}

/// Arms `fault` for `method`, replacing whatever was armed for that same method (so arming
/// with `times: 0` disarms it). A method fault and a `*` fault can be armed side by side.
pub(crate) fn arm(slots: &mut Vec<FaultSlot>, method: &str, fault: Fault) {
    let slot = FaultSlot::new(method, fault);
    slots.retain(|s| s.method != slot.method);
    if slot.remaining > 0 {
        slots.push(slot);
    }
}

/// Takes one use of the oldest armed fault matching `method` (lower-case).
pub(crate) fn take(slots: &mut Vec<FaultSlot>, method: &str) -> Option<Fault> {
    let slot = slots
        .iter_mut()
        .find(|s| s.remaining > 0 && (s.method == "*" || s.method == method))?;
    slot.remaining -= 1;
    let fault = slot.fault.clone();
    slots.retain(|s| s.remaining > 0);
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arming_a_method_again_replaces_its_fault_and_zero_times_disarms_it() {
        let mut slots = Vec::new();
        arm(
            &mut slots,
            "sendMessage",
            Fault::ServerError { times: 1000 },
        );
        arm(&mut slots, "*", Fault::DropResponse { times: 1 });
        arm(
            &mut slots,
            "SENDMESSAGE",
            Fault::TooManyRequests {
                retry_after: 0,
                times: 0,
            },
        );
        assert_eq!(
            take(&mut slots, "sendmessage"),
            Some(Fault::DropResponse { times: 1 })
        );
        assert_eq!(take(&mut slots, "sendmessage"), None);
    }

    #[test]
    fn faults_are_used_up_in_order_and_match_any_case_or_star() {
        let mut slots = vec![
            FaultSlot::new("SendMessage", Fault::ServerError { times: 1 }),
            FaultSlot::new("*", Fault::DropResponse { times: 2 }),
        ];
        assert_eq!(
            take(&mut slots, "sendmessage"),
            Some(Fault::ServerError { times: 1 })
        );
        assert_eq!(
            take(&mut slots, "sendmessage"),
            Some(Fault::DropResponse { times: 2 })
        );
        assert_eq!(
            take(&mut slots, "getme"),
            Some(Fault::DropResponse { times: 2 })
        );
        assert_eq!(take(&mut slots, "getme"), None);
    }
}
