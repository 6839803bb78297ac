//! The job queue on both backends: due times, leases, retries, and racing workers.

use std::collections::HashSet;
use std::time::Duration;

use betflow_domain::jobs::NewJob;
use betflow_domain::time::now;
use betflow_store::testing::TestDb;
use chrono::Duration as Span;
use serde_json::json;

betflow_store::conformance!(
    due_jobs_are_claimed_completed_retried_and_buried,
    an_expired_lease_passes_the_job_to_another_worker,
    racing_workers_never_share_a_job,
);

fn job(at: chrono::DateTime<chrono::Utc>, n: u32) -> NewJob {
    NewJob {
        kind: "test.job".into(),
        payload: json!({"n": n}),
        run_at: at,
        max_attempts: 3,
    }
}

async fn enqueue(db: &TestDb, jobs: &[NewJob]) -> Vec<uuid::Uuid> {
    let mut tx = db.store.begin().await.unwrap();
    let mut ids = Vec::new();
    for j in jobs {
        ids.push(tx.enqueue_job(j).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

async fn due_jobs_are_claimed_completed_retried_and_buried(db: TestDb) {
    let t = now();
    let ids = enqueue(
        &db,
        &[
            job(t - Span::seconds(5), 1),
            job(t, 2),
            job(t + Span::hours(1), 3),
        ],
    )
    .await;
    let lease = Duration::from_secs(60);
    let claimed = db.store.claim_jobs("w1", t, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].payload, json!({"n": 1}), "oldest due first");
    assert!(
        claimed
            .iter()
            .all(|j| j.attempts == 1 && j.kind == "test.job")
    );
    assert!(
        db.store
            .claim_jobs("w2", t, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    assert!(db.store.complete_job(ids[0], "w1", t).await.unwrap());
    assert_eq!(
        db.store.job_status(ids[0]).await.unwrap(),
        Some(("done".into(), 1))
    );
    assert!(
        db.store
            .fail_job(ids[1], "w1", "boom", Some(t + Span::seconds(1)), t)
            .await
            .unwrap()
    );
    assert_eq!(
        db.store.job_status(ids[1]).await.unwrap(),
        Some(("queued".into(), 1))
    );
    assert!(
        db.store
            .claim_jobs("w1", t, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );

    let again = db
        .store
        .claim_jobs("w1", t + Span::seconds(2), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("boom"));
    assert!(
        db.store
            .fail_job(ids[1], "w1", "still broken", None, t)
            .await
            .unwrap()
    );
    assert_eq!(
        db.store.job_status(ids[1]).await.unwrap(),
        Some(("dead".into(), 2))
    );

    let later = db
        .store
        .claim_jobs("w1", t + Span::hours(2), lease, 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].id, ids[2]);
    assert!(
        db.store
            .job_status(uuid::Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_expired_lease_passes_the_job_to_another_worker(db: TestDb) {
    let t = now();
    let ids = enqueue(&db, &[job(t, 1)]).await;
    let first = db
        .store
        .claim_jobs("crashed", t, Duration::from_secs(30), 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        db.store
            .claim_jobs("w2", t + Span::seconds(10), Duration::from_secs(30), 1)
            .await
            .unwrap()
            .is_empty()
    );
    let taken = db
        .store
        .claim_jobs("w2", t + Span::seconds(31), Duration::from_secs(30), 1)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 2);
    assert!(
        !db.store.complete_job(ids[0], "crashed", t).await.unwrap(),
        "the lease was taken over"
    );
    assert!(db.store.complete_job(ids[0], "w2", t).await.unwrap());
}

async fn racing_workers_never_share_a_job(db: TestDb) {
    let t = now();
    let jobs: Vec<NewJob> = (0..40).map(|n| job(t - Span::seconds(1), n)).collect();
    enqueue(&db, &jobs).await;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_jobs(&format!("w{w}"), t, Duration::from_secs(60), 7)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(unique.len(), 40);
}
