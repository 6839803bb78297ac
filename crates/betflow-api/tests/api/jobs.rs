//! Jobs as stored rows: rows written in the stored shape (`kind`, `payload` JSON) run
//! through the handler registered for their kind; a payload no run could read is buried at
//! once; a kind this release does not know is retried; and every run shows in `/metrics`.

use crate::common::spawn;
use betflow_domain::jobs::NewJob;
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

betflow_store::conformance!(stored_jobs_run_by_kind_and_show_in_metrics);

async fn enqueue(
    s: &crate::common::TestServer,
    kind: &str,
    payload: Value,
    max: u32,
) -> uuid::Uuid {
    let mut tx = s.db.store.begin().await.unwrap();
    let id = tx
        .enqueue_job(&NewJob {
            kind: kind.into(),
            payload,
            run_at: chrono::Utc::now() - chrono::Duration::seconds(2),
            max_attempts: max,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The one line of the exposition that starts with `name{` and carries every label.
fn series<'t>(text: &'t str, name: &str, labels: &[&str]) -> Option<&'t str> {
    text.lines().find(|l| {
        l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label))
    })
}

async fn stored_jobs_run_by_kind_and_show_in_metrics(db: TestDb) {
    let s = spawn(db).await;
    // A delivery job as earlier releases wrote it (`json!`, not the typed enum), for a
    // delivery that no longer exists: it runs and does nothing.
    let deliver = enqueue(
        &s,
        "webhook.deliver",
        json!({"deliveryId": uuid::Uuid::now_v7()}),
        10,
    )
    .await;
    let malformed = enqueue(
        &s,
        "workflow.run_step",
        json!({"workflowId": "not-a-uuid"}),
        10,
    )
    .await;
    let unknown = enqueue(&s, "test.no_such_kind", json!({}), 3).await;

    let claimed = s
        .engine
        .run_due_jobs("metrics-test", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed, 3);
    let status = |id| {
        let store = s.db.store.clone();
        async move { store.job_status(id).await.unwrap().unwrap() }
    };
    assert_eq!(status(deliver).await, ("done".to_owned(), 1));
    assert_eq!(
        status(malformed).await,
        ("dead".to_owned(), 1),
        "buried at once"
    );
    assert_eq!(
        status(unknown).await,
        ("queued".to_owned(), 1),
        "due again later"
    );

    let text = s.get("/metrics").await.text().await.unwrap();
    for (name, labels) in [
        ("jobs_claimed_total", vec!["kind=\"webhook.deliver\""]),
        ("jobs_claimed_total", vec!["kind=\"workflow.run_step\""]),
        ("jobs_succeeded_total", vec!["kind=\"webhook.deliver\""]),
        ("jobs_dead_total", vec!["kind=\"workflow.run_step\""]),
        ("jobs_retried_total", vec!["kind=\"unknown\""]),
        (
            "job_run_duration_seconds_bucket",
            vec![
                "kind=\"webhook.deliver\"",
                "outcome=\"succeeded\"",
                "le=\"0.001\"",
            ],
        ),
        (
            "job_queue_lag_seconds_bucket",
            vec!["kind=\"webhook.deliver\"", "le=\"1\""],
        ),
        ("job_queue_lag_seconds_count", vec!["kind=\"unknown\""]),
    ] {
        assert!(
            series(&text, name, &labels).is_some(),
            "{name} {labels:?} in\n{text}"
        );
    }
    // Claimed two seconds late: the lag histogram counts it above one second.
    let lag_le_1 = series(
        &text,
        "job_queue_lag_seconds_bucket",
        &["kind=\"webhook.deliver\"", "le=\"1\""],
    );
    let lag_le_10 = series(
        &text,
        "job_queue_lag_seconds_bucket",
        &["kind=\"webhook.deliver\"", "le=\"10\""],
    );
    let count = |line: Option<&str>| -> u64 {
        line.and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count(lag_le_10) > count(lag_le_1), "{text}");
}
