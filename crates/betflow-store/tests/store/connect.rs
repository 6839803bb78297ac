//! Connecting: retry, failure messages, and the optional Redis handle.

use std::time::{Duration, Instant};

use betflow_store::redis::RedisHandle;
use betflow_store::{StoreConfig, StoreError, testing};

#[tokio::test]
async fn unreachable_postgres_retries_then_fails_clearly_without_leaking_the_password() {
    let mut config = StoreConfig::with_url("postgres://app:hunter2@127.0.0.1:1/app");
    config.connect_timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let err = betflow_store::connect(&config)
        .await
        .err()
        .expect("must fail");
    let elapsed = started.elapsed();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(msg.contains("attempt"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(
        elapsed >= Duration::from_millis(500),
        "gave up too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "retried too long: {elapsed:?}"
    );
}

#[tokio::test]
async fn unsupported_url_is_a_config_error() {
    let err = betflow_store::connect(&StoreConfig::with_url("mysql://root@localhost/db"))
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn sqlite_data_dir_that_is_a_file_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let config = StoreConfig::embedded(file.path().join("sub"));
    let err = betflow_store::connect(&config)
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn postgres_with_wrong_database_fails_fast() {
    let Some(base) = std::env::var(testing::DATABASE_URL_VAR).ok() else {
        eprintln!("{} unset: skipped", testing::DATABASE_URL_VAR);
        return;
    };
    let url = match base.rfind('/') {
        Some(i) => format!("{}/betflow_no_such_db_{}", &base[..i], std::process::id()),
        None => panic!("unexpected URL shape"),
    };
    let mut config = StoreConfig::with_url(url);
    config.connect_timeout = Duration::from_secs(20);
    let started = Instant::now();
    let err = betflow_store::connect(&config)
        .await
        .err()
        .expect("must fail");
    assert!(!err.is_transient(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn redis_ping_against_real_redis() {
    let Some(url) = testing::redis_url() else {
        eprintln!("{} unset: skipped", testing::REDIS_URL_VAR);
        return;
    };
    let redis = RedisHandle::new(&url).unwrap();
    redis
        .ping(Duration::from_secs(2))
        .await
        .unwrap_or_else(|e| panic!("{} is set but Redis fails: {e}", testing::REDIS_URL_VAR));
    // The cached connection is reused.
    redis.ping(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn redis_down_is_reported_not_hung() {
    let redis = RedisHandle::new("redis://:secretpw@127.0.0.1:1/").unwrap();
    let err = redis.ping(Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)));
    assert!(!err.to_string().contains("secretpw"), "{err}");
    assert!(RedisHandle::new("not-a-url").is_err());
}

/// The pool does not ping busy connections, so a connection the server killed is found out
/// by the next statement on it: that statement is reported as the database being away
/// (503 upstream), never as a bad request or an internal error, and the pool replaces it.
#[tokio::test]
async fn postgres_connections_killed_by_the_server_are_unavailable_then_replaced() {
    let Some(url) = testing::fresh_postgres_url().await else {
        eprintln!("{} unset: skipped", testing::DATABASE_URL_VAR);
        return;
    };
    let name = format!("betflow_kill_{}", std::process::id());
    let store = betflow_store::connect(&StoreConfig::with_url(format!(
        "{url}&application_name={name}"
    )))
    .await
    .expect("connect");
    let warm = (0..4).map(|_| store.ping());
    for r in futures::future::join_all(warm).await {
        r.expect("ping");
    }
    let base = std::env::var(testing::DATABASE_URL_VAR).unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .expect("admin connection");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert!(!killed.is_empty(), "the store's connections were not found");
    // Each dead connection fails one statement at most, always as unavailable.
    let mut recovered = false;
    for _ in 0..10 {
        match store.ping().await {
            Ok(()) => {
                recovered = true;
                break;
            }
            Err(e) => assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}"),
        }
    }
    assert!(recovered, "the pool never replaced its dead connections");
}

/// A stopped server leaves one SQLite file: `close` commits and folds the WAL back in, and
/// the next start reads every committed write.
#[tokio::test]
async fn sqlite_close_folds_the_wal_into_the_database_file() {
    use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::embedded(dir.path());
    let store = betflow_store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    let entry = AuditEntry::new(
        "t",
        uuid::Uuid::now_v7(),
        AuditAction::Insert,
        None,
        None,
        Actor::default(),
    )
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_audit(&entry).await.unwrap();
    tx.commit().await.unwrap();
    let wal = config.sqlite_path().with_extension("db-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0);
    store.close().await;
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);

    let reopened = betflow_store::connect(&config).await.unwrap();
    assert!(reopened.get_audit_entry(entry.id).await.unwrap().is_some());
}
