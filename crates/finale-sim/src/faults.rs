//! Fault injection: scripted misbehaviour for the next N matching requests.
//!
//! A test queues [`FaultPlan`]s on the running simulator (`SimHandle::inject`). Each incoming
//! request takes the first queued plan whose `path_contains` matches (and, for
//! `MalformedRecords`, only collection reads match), which then has one use less; a plan with
//! no uses left is removed. Faults are applied **before** authentication-independent rate
//! limiting, so they consume no budget, and they are recorded in the request log with their
//! status (0 for `Drop` and `Truncate`, where no complete response exists).

use std::time::Duration;

/// One kind of misbehaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Respond with this status and an error body (5xx, 401, 404 ...).
    Status(u16),
    /// 429 with `X-RateLimit-Remaining: 0`, `Reset` = now + `reset_after` (default 60 virtual
    /// seconds) and `Retry-After`.
    RateLimitStorm,
    /// Delay the response by this real duration, then answer normally.
    Slow(Duration),
    /// Close the connection without a response.
    Drop,
    /// Send headers (with the full `Content-Length`) and half of the body, then abort.
    Truncate,
    /// Corrupt this many records in the next collection body (a number becomes `"twelve"`, a
    /// date `"not-a-date"`, a URL `42`); the rest stay valid.
    MalformedRecords(usize),
    /// 200 with an `{"errorMessage": ...}` body.
    ErrorBody200,
}

/// A fault for the next `count` requests whose path contains `path_contains`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// What to do.
    pub fault: Fault,
    /// How many matching requests it applies to.
    pub count: usize,
    /// Only requests whose path contains this substring (all if `None`).
    pub path_contains: Option<String>,
    /// For `RateLimitStorm`: how far in the future the reset lies (default 60 s virtual).
    pub reset_after: Option<chrono::Duration>,
}

impl FaultPlan {
    /// A plan for the next `count` requests of any path.
    pub fn new(fault: Fault, count: usize) -> Self {
        Self {
            fault,
            count,
            path_contains: None,
            reset_after: None,
        }
    }

    /// Restricts the plan to paths containing `s`.
    pub fn on_path(mut self, s: impl Into<String>) -> Self {
        self.path_contains = Some(s.into());
        self
    }
}

/// The queue of pending plans.
#[derive(Debug, Default)]
pub struct FaultQueue {
    plans: Vec<FaultPlan>,
}

impl FaultQueue {
    /// Appends a plan (ignored if `count` is 0).
    pub fn push(&mut self, plan: FaultPlan) {
        if plan.count > 0 {
            self.plans.push(plan);
        }
    }

    /// Removes all plans.
    pub fn clear(&mut self) {
        self.plans.clear();
    }

    /// Takes one use of the first plan matching this request.
    pub fn take(&mut self, path: &str, is_collection: bool) -> Option<FaultPlan> {
        let pos = self.plans.iter().position(|p| {
            p.path_contains.as_deref().is_none_or(|s| path.contains(s))
                && (is_collection || !matches!(p.fault, Fault::MalformedRecords(_)))
        })?;
        let plan = &mut self.plans[pos];
        plan.count -= 1;
        let taken = plan.clone();
        if plan.count == 0 {
            self.plans.remove(pos);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_used_up_in_order_and_filtered_by_path() {
        let mut q = FaultQueue::default();
        q.push(FaultPlan::new(Fault::Status(503), 2).on_path("/order"));
        q.push(FaultPlan::new(Fault::Drop, 1));
        q.push(FaultPlan::new(Fault::Truncate, 0));
        assert_eq!(
            q.take("/acme/api/product/", true).unwrap().fault,
            Fault::Drop
        );
        assert!(q.take("/acme/api/product/", true).is_none());
        assert_eq!(
            q.take("/acme/api/order/", true).unwrap().fault,
            Fault::Status(503)
        );
        assert_eq!(
            q.take("/acme/api/order/x", false).unwrap().fault,
            Fault::Status(503)
        );
        assert!(q.take("/acme/api/order/", true).is_none());
    }

    #[test]
    fn malformed_records_wait_for_a_collection_read() {
        let mut q = FaultQueue::default();
        q.push(FaultPlan::new(Fault::MalformedRecords(3), 1));
        assert!(q.take("/acme/api/product/123", false).is_none());
        assert!(q.take("/acme/api/product/", true).is_some());
        q.push(FaultPlan::new(Fault::Status(500), 5));
        q.clear();
        assert!(q.take("/x", true).is_none());
    }
}
