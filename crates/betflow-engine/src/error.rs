use betflow_domain::DomainError;
use betflow_store::StoreError;

/// Why an engine call failed, in terms the API maps to a status code.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("conflict: {0}")]
    Conflict(String),
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
