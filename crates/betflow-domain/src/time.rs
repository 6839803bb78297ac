//! One clock rule for the whole system.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time at microsecond precision.
///
/// PostgreSQL keeps microseconds; truncating here means a value read back from either backend
/// equals the value written, and SQLite's text timestamps sort the same way PostgreSQL's do.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
