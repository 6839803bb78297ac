use betflow_domain::DomainError;
use betflow_domain::refusal::RefusalKind;
use betflow_domain::sportsbook::placement::PlacementError;
use betflow_store::StoreError;

/// Why a credential was refused. The API answers each with the seed's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential at all.
    Missing,
    /// A bearer token that is malformed, forged, expired, or whose session has ended.
    InvalidToken,
    /// An API key that is unknown, revoked, expired, or whose owner is suspended.
    InvalidApiKey,
    /// An `Authorization` header with a scheme other than `Bearer` or `ApiKey`.
    InvalidScheme,
    /// A login that failed, for whatever reason; the reason is never disclosed.
    InvalidCredentials,
}

/// Why an engine call failed: a refusal of the client's request (with its [`RefusalKind`]),
/// failed authentication, or a fault on our side. No HTTP here: the API maps each to a
/// status.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("authentication failed: {0:?}")]
    Unauthenticated(AuthFailure),
    /// The caller lacks these permissions.
    #[error("missing permissions: {}", .0.join(", "))]
    PermissionDenied(Vec<String>),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The requested status change is not allowed from the current state.
    #[error("invalid transition: {0}")]
    InvalidTransition(String),
    /// The four-eyes rule refused the action.
    #[error("segregation of duties: {0}")]
    SegregationOfDuties(String),
    /// The caller's role may not act on this step.
    #[error("not an assignee: {0}")]
    NotAssignee(String),
    /// Well-formed but cannot be processed.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// A business rule refused the request with a stable code clients switch on
    /// (`INSUFFICIENT_FUNDS`, `ODDS_CHANGED`, ...), and details such as the current odds.
    #[error("{code}: {message}")]
    Rejected {
        kind: RefusalKind,
        code: &'static str,
        message: String,
        details: Option<serde_json::Value>,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database aborted the transaction to break a deadlock or a serialization
    /// conflict, and it was run again (see [`crate::retry_contended`]) without getting
    /// through. Nothing was written; the client may retry.
    #[error("contention: {0}")]
    Contention(String),
    /// A fault on our side; the message is for logs, not for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            e @ StoreError::Contention { .. } => Self::Contention(e.to_string()),
            StoreError::Conflict { constraint } => Self::Conflict(constraint),
            // The ledger refused to overdraw a customer account.
            StoreError::InsufficientFunds { .. } => Self::refused(
                RefusalKind::Unprocessable,
                "INSUFFICIENT_FUNDS",
                "the balance does not cover this",
                None,
            ),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A refusal as clients see it, without a status: its kind, stable code, message and
/// details. The domain's type, so a pure rule's refusal passes through unchanged.
pub use betflow_domain::refusal::Refusal;

impl From<Refusal> for EngineError {
    fn from(r: Refusal) -> Self {
        Self::refused(r.kind, r.code, r.message, r.details)
    }
}

impl From<PlacementError> for EngineError {
    fn from(e: PlacementError) -> Self {
        match e {
            PlacementError::Refused(r) => r.into(),
            PlacementError::Invalid(e) => e.into(),
        }
    }
}

impl EngineError {
    /// A business rule's refusal.
    pub fn refused(
        kind: RefusalKind,
        code: &'static str,
        message: impl Into<String>,
        details: Option<serde_json::Value>,
    ) -> Self {
        Self::Rejected {
            kind,
            code,
            message: message.into(),
            details,
        }
    }

    /// A body names an object that does not exist: `NOT_FOUND`, with the member at fault in
    /// `details` as a validation error names it. Not found like the URL's own, since either
    /// way the client asked for something that is not there, and not invalid: the body is
    /// well formed.
    pub fn missing_reference(field: &str, what: &str) -> Self {
        Self::refused(
            RefusalKind::NotFound,
            "NOT_FOUND",
            format!("{field}: no such {what}"),
            Some(serde_json::json!([{"field": field, "message": format!("no such {what}")}])),
        )
    }

    /// The refusal this error is, or `None` for faults on our side (and for failed
    /// authentication, whose answer the API words). One mapping, used by the API and to
    /// record refusals under an idempotency key.
    pub fn refusal(&self) -> Option<Refusal> {
        use RefusalKind as K;
        let (kind, code, message, details) = match self {
            Self::Invalid(DomainError::Validation(v)) => (
                K::Invalid,
                "VALIDATION_ERROR",
                v.iter()
                    .map(|v| format!("{}: {}", v.field, v.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(serde_json::json!(v)),
            ),
            Self::PermissionDenied(missing) => (
                K::Forbidden,
                "INSUFFICIENT_PERMISSIONS",
                format!("Missing required permissions: {}", missing.join(", ")),
                Some(serde_json::json!({ "missing": missing })),
            ),
            Self::NotFound(what) => (K::NotFound, "NOT_FOUND", format!("Not found: {what}"), None),
            Self::InvalidTransition(why) => (K::Conflict, "INVALID_TRANSITION", why.clone(), None),
            Self::SegregationOfDuties(why) => {
                (K::Forbidden, "SEGREGATION_OF_DUTIES", why.clone(), None)
            }
            Self::NotAssignee(why) => (K::Forbidden, "NOT_ASSIGNEE", why.clone(), None),
            Self::Unprocessable(why) => {
                (K::Unprocessable, "UNPROCESSABLE_ENTITY", why.clone(), None)
            }
            Self::Conflict(what) => (K::Conflict, "CONFLICT", what.clone(), None),
            Self::Rejected {
                kind,
                code,
                message,
                details,
            } => (*kind, *code, message.clone(), details.clone()),
            Self::Unauthenticated(_)
            | Self::Unavailable(_)
            | Self::Contention(_)
            | Self::Internal(_) => return None,
        };
        Some(Refusal {
            kind,
            code,
            message,
            details,
        })
    }
}
