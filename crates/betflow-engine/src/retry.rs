//! Running a transaction again when the database aborted it for contention.

use std::time::Duration;

use crate::EngineError;

/// How many times in all a transaction the database aborted for contention is run.
pub const CONTENDED_ATTEMPTS: u32 = 4;

/// Runs `attempt`, one whole transaction, again when the database aborted it to break a
/// deadlock or a serialization conflict ([`EngineError::Contention`]): nothing of it was
/// written, and the rows it waited for are free once the transaction it raced ends. The
/// runs are a few milliseconds apart, jittered, so racing transactions do not meet again
/// in step; after [`CONTENDED_ATTEMPTS`] the error goes to the caller, a 503 the client
/// may retry. The store's lock order keeps deadlocks from happening in the first place:
/// this is the net under it, for a race the order did not foresee.
pub(crate) async fn retry_contended<T, F, Fut>(mut attempt: F) -> Result<T, EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let mut run = 1;
    loop {
        match attempt().await {
            Err(EngineError::Contention(why)) if run < CONTENDED_ATTEMPTS => {
                tracing::warn!(run, error = %why, "transaction aborted for contention; running it again");
                let mut b = [0u8; 2];
                let _ = getrandom::fill(&mut b);
                let base = 5u64 << run;
                let pause = base + u64::from(u16::from_le_bytes(b)) % base;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                run += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn aborted() -> EngineError {
        EngineError::from(betflow_store::StoreError::Contention {
            code: "40P01".into(),
            message: "deadlock detected".into(),
        })
    }

    /// A transaction aborted for contention runs again, and one that keeps being aborted
    /// gives up after a bounded number of runs with the contention error (a 503), while
    /// any other error is not retried at all.
    #[tokio::test]
    async fn contention_is_retried_a_bounded_number_of_times() {
        let runs = AtomicU32::new(0);
        let r = retry_contended(|| async {
            if runs.fetch_add(1, Ordering::Relaxed) < 2 {
                Err(aborted())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!((r.unwrap(), runs.load(Ordering::Relaxed)), (7, 3));

        let runs = AtomicU32::new(0);
        let r: Result<(), _> = retry_contended(|| async {
            runs.fetch_add(1, Ordering::Relaxed);
            Err(aborted())
        })
        .await;
        assert!(matches!(r, Err(EngineError::Contention(_))), "{r:?}");
        assert_eq!(runs.load(Ordering::Relaxed), CONTENDED_ATTEMPTS);
        assert!(aborted().refusal().is_none(), "not the client's fault");

        let runs = AtomicU32::new(0);
        let r: Result<(), _> = retry_contended(|| async {
            runs.fetch_add(1, Ordering::Relaxed);
            Err(EngineError::Conflict("x".into()))
        })
        .await;
        assert!(matches!(r, Err(EngineError::Conflict(_))));
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }
}
