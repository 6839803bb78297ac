use thiserror::Error;

/// Why a store call failed. sqlx's error type stays inside this crate; callers see only what
/// they can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The configuration cannot work (bad URL, missing directory, ...).
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// The database could not be reached or the pool is exhausted; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint refused the write; `constraint` names it when the backend says.
    #[error("conflicts with an existing row ({constraint})")]
    Conflict { constraint: String },
    /// A foreign key or check constraint refused the write.
    #[error("violates constraint {constraint}")]
    Constraint { constraint: String },
    /// A stored row could not be turned back into a domain value.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// A customer account cannot cover a debit.
    #[error("insufficient funds in {owner}'s {kind} account")]
    InsufficientFunds {
        owner: uuid::Uuid,
        kind: &'static str,
    },
    #[error("migration failed: {0}")]
    Migration(String),
    /// PostgreSQL aborted the transaction to break a deadlock (`40P01`) or a serialization
    /// conflict (`40001`). Nothing of it was written, and running the whole transaction again
    /// may succeed: the caller retries a bounded number of times. With every path taking
    /// its row locks in the crate's lock order (see "Lock order" in the crate docs) a
    /// deadlock should not happen at all; this is the safety net, not the plan.
    #[error("transaction aborted by the database to resolve contention ({code}): {message}")]
    Contention { code: String, message: String },
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Whether running the whole transaction again may succeed where this one was aborted.
    pub fn is_contention(&self) -> bool {
        matches!(self, Self::Contention { .. })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match e {
            sqlx::Error::Database(db) => {
                // PostgreSQL names the constraint; SQLite only mentions it in the message
                // ("UNIQUE constraint failed: index 'users_email_key'").
                let constraint = db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned());
                // PostgreSQL shutting down or restarting (57P01-57P03) or a broken
                // connection (class 08): the database is away, not the request wrong.
                let code = db.code().unwrap_or_default();
                if matches!(code.as_ref(), "57P01" | "57P02" | "57P03") || code.starts_with("08") {
                    return Self::Unavailable(db.to_string());
                }
                // Deadlock detected, serialization failure: the transaction lost a race and
                // was rolled back whole. (SQLite's codes are numbers and never match.)
                if matches!(code.as_ref(), "40P01" | "40001") {
                    return Self::Contention {
                        code: code.into_owned(),
                        message: db.message().to_owned(),
                    };
                }
                match db.kind() {
                    ErrorKind::UniqueViolation => Self::Conflict { constraint },
                    ErrorKind::ForeignKeyViolation
                    | ErrorKind::CheckViolation
                    | ErrorKind::NotNullViolation => Self::Constraint { constraint },
                    _ => Self::Database(db.to_string()),
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e.to_string()),
            sqlx::Error::Configuration(_) => Self::Config(e.to_string()),
            other => Self::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migration(e.to_string())
    }
}
