//! Why a request was refused, in the platform's own words. The engine refuses with a
//! [`RefusalKind`], a stable code clients switch on (`INSUFFICIENT_FUNDS`, `ODDS_CHANGED`),
//! a message and details; only the API turns a kind into an HTTP status, so the rules below
//! it never speak HTTP.

use serde::{Deserialize, Serialize};

/// What sort of refusal: the client's request, not a fault on our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The request is malformed: a field breaks its rules.
    Invalid,
    /// A credential or signature did not prove who sent the request.
    Unauthenticated,
    /// The caller may not do this (permissions, a break in force, an unverified customer).
    Forbidden,
    /// The request names something that does not exist.
    NotFound,
    /// The request does not fit the current state (odds moved, already settled, in use).
    Conflict,
    /// Well formed, but a business rule refuses it (a limit, the balance, a mismatch).
    Unprocessable,
}

impl RefusalKind {
    pub const ALL: [Self; 6] = [
        Self::Invalid,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::Unprocessable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unprocessable => "unprocessable",
        }
    }
}

/// A refusal as a pure rule gives it: its kind, stable code, message and details. The engine
/// turns it into its error unchanged, so a rule decided here reads to clients exactly as one
/// decided in the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl Refusal {
    pub fn new(
        kind: RefusalKind,
        code: &'static str,
        message: impl Into<String>,
        details: Option<serde_json::Value>,
    ) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details,
        }
    }
}
