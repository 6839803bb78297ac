//! Engine services over real databases.

use std::time::Duration;

use betflow_domain::DomainError;
use betflow_domain::audit::{AuditQuery, Severity, SystemEvent, SystemEventQuery};
use betflow_engine::identity::IdentityConfig;
use betflow_engine::{Engine, EngineError};
use betflow_store::redis::RedisHandle;
use betflow_store::testing::{self, TestDb};
use std::sync::Arc;

fn make_engine(store: Arc<dyn betflow_store::Store>, redis: Option<Arc<RedisHandle>>) -> Engine {
    let config = IdentityConfig::new(b"engine-test-secret-0123456789abcdef".to_vec());
    Engine::new(store, redis, &config).unwrap()
}

betflow_store::conformance!(
    readiness_reports_the_database,
    system_events_are_recorded_and_read_back,
    inverted_audit_range_is_a_validation_error,
);

async fn readiness_reports_the_database(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let r = engine.readiness().await;
    assert!(r.is_ready(), "{r:?}");
    assert_eq!(r.checks.len(), 1);
    assert_eq!(r.checks[0].name, "database");

    db.store.close().await;
    let r = engine.readiness().await;
    assert!(!r.is_ready());
    assert_eq!(r.failed().next().unwrap().name, "database");
}

async fn system_events_are_recorded_and_read_back(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let ev = SystemEvent::new("server.started", Severity::Info, "started", None).unwrap();
    engine.record_system_event(&ev).await.unwrap();
    let page = engine
        .system_events(&SystemEventQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items, vec![ev]);
}

async fn inverted_audit_range_is_a_validation_error(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let now = betflow_domain::time::now();
    let err = engine
        .audit_log(&AuditQuery {
            from: Some(now),
            until: Some(now - chrono::Duration::seconds(5)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        EngineError::Invalid(DomainError::Validation(_))
    ));
}

#[tokio::test]
async fn readiness_checks_redis_when_configured() {
    let db = TestDb::sqlite().await;
    let down = Arc::new(RedisHandle::new("redis://127.0.0.1:1/").unwrap());
    let engine = make_engine(db.store.clone(), Some(down));
    let r = engine.readiness().await;
    assert!(!r.is_ready());
    let failed: Vec<_> = r.failed().map(|c| c.name).collect();
    assert_eq!(failed, ["redis"]);
    assert!(r.checks.iter().all(|c| c.latency < Duration::from_secs(5)));

    if let Some(url) = testing::redis_url() {
        let up = Arc::new(RedisHandle::new(&url).unwrap());
        let engine = make_engine(db.store.clone(), Some(up));
        let r = engine.readiness().await;
        assert!(r.is_ready(), "{r:?}");
        assert_eq!(r.checks.len(), 2);
    }
}
