//! Migration 0014 on a SQLite database that already holds workflows: the tables it rebuilds
//! (to add the `failed` status to their CHECKs) keep every row, their indexes and their
//! foreign keys, and accept the new status.

use std::path::Path;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Executor, Row};

#[tokio::test]
async fn migration_0014_keeps_existing_workflows_on_sqlite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let full = Migrator::new(dir.as_path()).await.unwrap();
    let mut before = Migrator::new(dir.as_path()).await.unwrap();
    before.migrations = full
        .migrations
        .iter()
        .filter(|m| m.version <= 13)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let options = SqliteConnectOptions::new()
        .in_memory(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    before.run(&pool).await.unwrap();

    let (def, inst) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let t = "2026-01-01 00:00:00+00:00";
    sqlx::query(
        "INSERT INTO workflow_definitions (id, key, name, latest_version, created_at, updated_at) \
         VALUES (?, 'old', 'Old', 1, ?, ?)",
    )
    .bind(def)
    .bind(t)
    .bind(t)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO workflow_versions (definition_id, version, graph, published_at) \
         VALUES (?, 1, '{\"steps\": []}', ?)",
    )
    .bind(def)
    .bind(t)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO workflow_instances (id, definition_id, workflow_type, version, status, \
         priority, current_step, step_visit, data, created_at, updated_at, tags) \
         VALUES (?, ?, 'old', 1, 'in_progress', 'high', 'a', 1, '{\"x\": 1}', ?, ?, '[\"t\"]')",
    )
    .bind(inst)
    .bind(def)
    .bind(t)
    .bind(t)
    .execute(&pool)
    .await
    .unwrap();
    for (visit, status, ended) in [(1, "completed", Some(t)), (2, "running", None)] {
        sqlx::query(
            "INSERT INTO workflow_step_runs (workflow_instance_id, visit, step_id, kind, status, \
             started_at, ended_at) VALUES (?, ?, 'a', 'action', ?, ?, ?)",
        )
        .bind(inst)
        .bind(visit)
        .bind(status)
        .bind(t)
        .bind(ended)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO workflow_timeline (id, workflow_instance_id, event_type, created_at) \
         VALUES (?, ?, 'workflow.created', ?)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(inst)
    .bind(t)
    .execute(&pool)
    .await
    .unwrap();

    full.run(&pool).await.unwrap();

    let row =
        sqlx::query("SELECT status, data, tags, priority FROM workflow_instances WHERE id = ?")
            .bind(inst)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("status"), "in_progress");
    assert_eq!(row.get::<String, _>("data"), "{\"x\": 1}");
    assert_eq!(row.get::<String, _>("tags"), "[\"t\"]");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM workflow_step_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 2);
    let timeline: i64 = sqlx::query_scalar("SELECT count(*) FROM workflow_timeline")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(timeline, 1);
    // The new status is accepted; a bad one still is not; the indexes are back.
    pool.execute("UPDATE workflow_instances SET status = 'failed'")
        .await
        .unwrap();
    pool.execute(
        "UPDATE workflow_step_runs SET status = 'failed', ended_at = '2026-01-02' WHERE visit = 2",
    )
    .await
    .unwrap();
    assert!(
        pool.execute("UPDATE workflow_instances SET status = 'lost'")
            .await
            .is_err()
    );
    let indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'workflow_instances' \
         AND name LIKE 'idx_%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(indexes, 5);
    // Foreign keys still hold: a step run of no workflow is refused.
    let orphan = sqlx::query(
        "INSERT INTO workflow_step_runs (workflow_instance_id, visit, step_id, kind, status, \
         started_at) VALUES (?, 1, 'a', 'action', 'running', ?)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(t)
    .execute(&pool)
    .await;
    assert!(orphan.is_err(), "{orphan:?}");
    let fk: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(fk.is_empty(), "foreign key violations after the migration");
}
