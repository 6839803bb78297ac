//! `Idempotency-Key` handling for every money-moving call (deposits, withdrawals, bet
//! placement): a retry gets the first outcome back, the key with another request is refused
//! (`IDEMPOTENCY_KEY_REUSED`), and the key while its first request runs too
//! (`IDEMPOTENCY_KEY_IN_USE`). What is kept is a typed [`Outcome`]; the API words it.

use std::future::Future;
use std::sync::Arc;

use betflow_domain::DomainError;
use betflow_domain::idempotency::Outcome;
use betflow_domain::time::now;
use betflow_store::{IdempotencyClaim, Store, Transaction};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{EngineError, RefusalKind};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::hours(24);
/// How long a claimed idempotency key whose request never finished blocks retries.
const IDEMPOTENCY_LEASE: Duration = Duration::seconds(60);

/// An `Idempotency-Key` and the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: Uuid,
    pub key: String,
    /// A hash of the request (method, path, canonical body).
    pub fingerprint: String,
}

/// A money-moving call's result: fresh, or the first outcome under its idempotency key.
#[derive(Debug, Clone)]
pub enum Idempotent<T> {
    Fresh(T),
    Replay(Outcome),
}

/// Claims, completes and forgets idempotency keys.
#[derive(Clone)]
pub(crate) struct Idempotency {
    store: Arc<dyn Store>,
}

impl Idempotency {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Runs a money-moving call under an idempotency key. The call receives the key so it
    /// can record its outcome in its own transaction ([`record_created`]); a refusal is
    /// recorded here, and a fault frees the key for a retry.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        key: Option<&IdempotencyKey>,
        run: F,
    ) -> Result<Idempotent<T>, EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, EngineError>>,
    {
        let Some(key) = key else {
            return run().await.map(Idempotent::Fresh);
        };
        if key.key.is_empty() || key.key.len() > 255 {
            return Err(DomainError::invalid("Idempotency-Key", "1 to 255 characters").into());
        }
        let t = now();
        let mut tx = self.store.begin().await?;
        let claim = tx
            .claim_idempotency(
                key.user_id,
                &key.key,
                &key.fingerprint,
                t,
                t - IDEMPOTENCY_LEASE,
            )
            .await?;
        tx.commit().await?;
        match claim {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::InFlight => {
                return Err(EngineError::refused(
                    RefusalKind::Conflict,
                    "IDEMPOTENCY_KEY_IN_USE",
                    "a request with this Idempotency-Key is still being processed",
                    None,
                ));
            }
            IdempotencyClaim::Mismatch => {
                return Err(EngineError::refused(
                    RefusalKind::Unprocessable,
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was used with a different request",
                    None,
                ));
            }
            IdempotencyClaim::Done(outcome) => return Ok(Idempotent::Replay(outcome)),
        }
        match run().await {
            Ok(v) => Ok(Idempotent::Fresh(v)),
            Err(e) => {
                let mut tx = self.store.begin().await?;
                match e.refusal() {
                    Some(r) => {
                        let outcome = Outcome::Refused {
                            kind: r.kind,
                            code: r.code.to_owned(),
                            message: r.message,
                            details: r.details,
                        };
                        tx.complete_idempotency(key.user_id, &key.key, &outcome)
                            .await?;
                    }
                    None => tx.release_idempotency(key.user_id, &key.key).await?,
                }
                tx.commit().await?;
                Err(e)
            }
        }
    }

    /// Forgets idempotency keys older than [`IDEMPOTENCY_RETENTION`].
    pub(crate) async fn prune(&self, at: DateTime<Utc>) -> Result<u64, EngineError> {
        let mut tx = self.store.begin().await?;
        let n = tx
            .prune_idempotency_keys(at - IDEMPOTENCY_RETENTION)
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// Records what a successful call created under its idempotency key, in the call's own
/// transaction, so the outcome commits with the money it moved.
pub(crate) async fn record_created<T: Serialize>(
    tx: &mut Box<dyn Transaction>,
    key: Option<&IdempotencyKey>,
    created: &T,
) -> Result<(), EngineError> {
    if let Some(key) = key {
        let value = serde_json::to_value(created)
            .map_err(|e| EngineError::Internal(format!("idempotent outcome: {e}")))?;
        tx.complete_idempotency(key.user_id, &key.key, &Outcome::Created(value))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use betflow_store::testing::TestDb;
    use serde_json::{Value, json};

    betflow_store::conformance!(
        a_key_still_in_flight_is_refused,
        outcomes_replay_as_recorded
    );

    /// The third rule of idempotency keys, which a client only sees in a race: while the
    /// first request with a key runs, the same key is refused as in use (and with another
    /// request as reused), and the first request is not disturbed.
    async fn a_key_still_in_flight_is_refused(db: TestDb) {
        let idempotency = Idempotency::new(db.store.clone());
        let key = IdempotencyKey {
            user_id: Uuid::now_v7(),
            key: "dep-1".into(),
            fingerprint: "a".repeat(64),
        };
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (finish_tx, finish) = tokio::sync::oneshot::channel::<()>();
        let first = idempotency.run(Some(&key), || async move {
            started_tx.send(()).unwrap();
            finish.await.unwrap();
            Ok::<_, EngineError>(json!({"n": 1}))
        });
        let racers = async {
            started.await.unwrap();
            let same = idempotency
                .run(Some(&key), || async {
                    Ok::<_, EngineError>(json!({"n": 2}))
                })
                .await;
            let other = IdempotencyKey {
                fingerprint: "b".repeat(64),
                ..key.clone()
            };
            let different = idempotency
                .run(Some(&other), || async {
                    Ok::<_, EngineError>(json!({"n": 3}))
                })
                .await;
            finish_tx.send(()).unwrap();
            (same, different)
        };
        let (first, (same, different)) = tokio::join!(first, racers);
        assert!(matches!(first, Ok(Idempotent::Fresh(v)) if v == json!({"n": 1})));
        let code = |r: Result<Idempotent<Value>, EngineError>| match r {
            Err(e) => e.refusal().map(|c| (c.kind, c.code)),
            Ok(v) => panic!("ran again: {v:?}"),
        };
        assert_eq!(
            code(same),
            Some((RefusalKind::Conflict, "IDEMPOTENCY_KEY_IN_USE"))
        );
        assert_eq!(
            code(different),
            Some((RefusalKind::Unprocessable, "IDEMPOTENCY_KEY_REUSED"))
        );
        // Another customer's identical key is theirs alone.
        let theirs = IdempotencyKey {
            user_id: Uuid::now_v7(),
            ..key.clone()
        };
        let r = idempotency
            .run(Some(&theirs), || async {
                Ok::<_, EngineError>(json!({"n": 4}))
            })
            .await;
        assert!(matches!(r, Ok(Idempotent::Fresh(v)) if v == json!({"n": 4})));
    }

    /// A refusal recorded under a key comes back with its kind, code, message and details,
    /// and a creation with its resource, on either backend.
    async fn outcomes_replay_as_recorded(db: TestDb) {
        let idempotency = Idempotency::new(db.store.clone());
        let key = |k: &str| IdempotencyKey {
            user_id: Uuid::now_v7(),
            key: k.into(),
            fingerprint: "c".repeat(64),
        };
        let refused = key("r");
        let r = idempotency
            .run(Some(&refused), || async {
                Err::<Value, _>(EngineError::refused(
                    RefusalKind::Forbidden,
                    "SELF_EXCLUDED",
                    "on a break",
                    Some(json!({"kind": "time_out"})),
                ))
            })
            .await;
        assert!(r.is_err());
        let again = idempotency
            .run(Some(&refused), || async { Ok(json!({"ran": true})) })
            .await
            .unwrap();
        let Idempotent::Replay(outcome) = again else {
            panic!("ran again")
        };
        assert_eq!(
            outcome,
            Outcome::Refused {
                kind: RefusalKind::Forbidden,
                code: "SELF_EXCLUDED".into(),
                message: "on a break".into(),
                details: Some(json!({"kind": "time_out"})),
            }
        );

        let created = key("c");
        let body = json!({"id": 7, "status": "pending"});
        let run = idempotency
            .run(Some(&created), || async {
                let mut tx = db.store.begin().await?;
                record_created(&mut tx, Some(&created), &body).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
            .unwrap();
        assert!(matches!(run, Idempotent::Fresh(())));
        let again = idempotency
            .run(Some(&created), || async { Ok(()) })
            .await
            .unwrap();
        assert!(matches!(again, Idempotent::Replay(Outcome::Created(v)) if v == body));
    }
}
