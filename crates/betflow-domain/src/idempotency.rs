//! What a money-moving request under an `Idempotency-Key` first came to, kept so a retry
//! gets the same answer. Typed here; how it is stored is the store's business, and how it is
//! answered over HTTP the API's.

use serde_json::Value;

use crate::refusal::RefusalKind;

/// The outcome recorded under an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The request created this resource (its JSON form as first answered).
    Created(Value),
    /// The request was refused.
    Refused {
        kind: RefusalKind,
        code: String,
        message: String,
        details: Option<Value>,
    },
}
