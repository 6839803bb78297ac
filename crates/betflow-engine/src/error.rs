use betflow_domain::DomainError;
use betflow_store::StoreError;

/// Why a credential was refused. Each maps to a 401 with the seed's wording.
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

/// Why an engine call failed, in terms the API maps to a status code.
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
    /// Well-formed but cannot be processed (422).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault on our side; the message is for logs, not for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            StoreError::Conflict { constraint } => Self::Conflict(constraint),
            other => Self::Internal(other.to_string()),
        }
    }
}
