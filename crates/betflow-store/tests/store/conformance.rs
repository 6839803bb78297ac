//! Store behaviour, written once and run against SQLite and PostgreSQL.

use std::net::IpAddr;
use std::sync::Arc;

use betflow_domain::PageRequest;
use betflow_domain::audit::{
    Actor, AuditAction, AuditEntry, AuditQuery, Severity, SystemEvent, SystemEventQuery,
};
use betflow_store::testing::TestDb;
use betflow_store::{Store, StoreError};
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(
    migrations_are_idempotent,
    ping_and_pool_stats,
    audit_entry_round_trips_every_field,
    audit_query_filters_by_record_user_action_and_time,
    audit_query_paginates_newest_first,
    rollback_and_drop_discard_writes,
    failed_statement_leaves_nothing_behind,
    duplicate_id_is_a_conflict,
    database_constraints_back_up_domain_rules,
    concurrent_writers_all_commit,
    cancelled_writer_leaves_nothing_and_lets_the_queue_commit,
    racing_commits_rollbacks_and_drops_keep_exactly_the_committed,
    system_events_round_trip_and_filter_by_severity,
    old_history_is_pruned_oldest_first_in_chunks,
);

fn entry(table: &str, record: Uuid, action: AuditAction, user: Option<Uuid>) -> AuditEntry {
    AuditEntry::new(
        table,
        record,
        action,
        None,
        Some(json!({"n": 1})),
        Actor {
            user_id: user,
            ..Actor::default()
        },
    )
    .unwrap()
}

/// How many audit rows a record has.
async fn audit_total(store: &Arc<dyn Store>, record: Uuid) -> u64 {
    let query = AuditQuery {
        record_id: Some(record),
        ..Default::default()
    };
    store.query_audit(&query).await.unwrap().total
}

async fn insert(store: &Arc<dyn Store>, e: &AuditEntry) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_audit(e).await.unwrap();
    tx.commit().await.unwrap();
}

async fn migrations_are_idempotent(db: TestDb) {
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
}

async fn ping_and_pool_stats(db: TestDb) {
    db.store.ping().await.unwrap();
    let stats = db.store.pool_stats();
    assert!(stats.size >= 1 && stats.size <= stats.max, "{stats:?}");
    assert!(stats.idle <= stats.size);
}

async fn audit_entry_round_trips_every_field(db: TestDb) {
    for ip in ["203.0.113.7", "2001:db8::1"] {
        let e = AuditEntry::new(
            "betting_lines",
            Uuid::now_v7(),
            AuditAction::Update,
            Some(json!({"odds": "1.85", "nested": {"a": [1, 2]}})),
            Some(json!({"odds": "1.90", "unicode": "célèbre ✓"})),
            Actor {
                user_id: Some(Uuid::now_v7()),
                ip_address: Some(ip.parse::<IpAddr>().unwrap()),
                user_agent: Some("curl/8.5".into()),
            },
        )
        .unwrap();
        insert(&db.store, &e).await;
        let got = db.store.get_audit_entry(e.id).await.unwrap().unwrap();
        assert_eq!(got, e);
    }
    assert!(
        db.store
            .get_audit_entry(Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}

async fn audit_query_filters_by_record_user_action_and_time(db: TestDb) {
    let (rec_a, rec_b) = (Uuid::now_v7(), Uuid::now_v7());
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let base = Utc::now() - Duration::hours(3);
    let rows = [
        ("workflows", rec_a, AuditAction::Insert, Some(alice), 0),
        ("workflows", rec_a, AuditAction::Update, Some(bob), 60),
        ("workflows", rec_b, AuditAction::Insert, Some(alice), 120),
        ("users", rec_a, AuditAction::Delete, None, 150),
    ];
    for (table, rec, action, user, minutes) in rows {
        let mut e = entry(table, rec, action, user);
        e.timestamp = base + Duration::minutes(minutes);
        insert(&db.store, &e).await;
    }
    let count = |q: AuditQuery| {
        let store = db.store.clone();
        async move { store.query_audit(&q).await.unwrap().total }
    };
    assert_eq!(count(AuditQuery::default()).await, 4);
    assert_eq!(
        count(AuditQuery {
            table_name: Some("workflows".into()),
            record_id: Some(rec_a),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            user_id: Some(alice),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            action: Some(AuditAction::Insert),
            ..Default::default()
        })
        .await,
        2
    );
    // `from` is inclusive, `until` exclusive.
    assert_eq!(
        count(AuditQuery {
            from: Some(base + Duration::minutes(60)),
            until: Some(base + Duration::minutes(150)),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            table_name: Some("no_such_table".into()),
            ..Default::default()
        })
        .await,
        0
    );
}

async fn audit_query_paginates_newest_first(db: TestDb) {
    let record = Uuid::now_v7();
    let base = Utc::now() - Duration::hours(1);
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut e = entry("events", record, AuditAction::Update, None);
        e.timestamp = base + Duration::seconds(i);
        ids.push(e.id);
        insert(&db.store, &e).await;
    }
    ids.reverse();
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = db
            .store
            .query_audit(&AuditQuery {
                record_id: Some(record),
                page: PageRequest::new(Some(page), Some(3)).unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((p.total, p.total_pages, p.page, p.limit), (7, 3, page, 3));
        seen.extend(p.items.into_iter().map(|e| e.id));
    }
    assert_eq!(seen, ids);
    let beyond = db
        .store
        .query_audit(&AuditQuery {
            page: PageRequest::new(Some(99), Some(3)).unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 7);
}

async fn rollback_and_drop_discard_writes(db: TestDb) {
    let a = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_audit(&a).await.unwrap();
    tx.rollback().await.unwrap();

    let b = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    {
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_audit(&b).await.unwrap();
    }
    for e in [&a, &b] {
        assert!(db.store.get_audit_entry(e.id).await.unwrap().is_none());
    }
    // The pool is still usable after a dropped transaction.
    insert(&db.store, &a).await;
    assert!(db.store.get_audit_entry(a.id).await.unwrap().is_some());
}

async fn failed_statement_leaves_nothing_behind(db: TestDb) {
    let good = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    let mut bad = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    bad.table_name = String::new();
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_audit(&good).await.unwrap();
    assert!(tx.insert_audit(&bad).await.is_err());
    drop(tx);
    assert!(db.store.get_audit_entry(good.id).await.unwrap().is_none());
}

async fn duplicate_id_is_a_conflict(db: TestDb) {
    let e = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    insert(&db.store, &e).await;
    let mut tx = db.store.begin().await.unwrap();
    let err = tx.insert_audit(&e).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

async fn database_constraints_back_up_domain_rules(db: TestDb) {
    let mut long = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    long.table_name = "x".repeat(101);
    let mut blank = entry("t", Uuid::now_v7(), AuditAction::Insert, None);
    blank.table_name = "   ".into();
    for e in [long, blank] {
        let mut tx = db.store.begin().await.unwrap();
        let err = tx.insert_audit(&e).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Constraint { .. } | StoreError::Database(_)),
            "{err:?}"
        );
    }
}

async fn concurrent_writers_all_commit(db: TestDb) {
    let record = Uuid::now_v7();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                for _ in 0..3 {
                    tx.insert_audit(&entry("race", record, AuditAction::Update, None))
                        .await?;
                }
                tokio::task::yield_now().await;
                tx.commit().await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(audit_total(&db.store, record).await, 96);
}

/// A request dropped mid-transaction (a client hanging up) while other writers queue behind
/// it: its write is gone, and every writer after it still commits.
async fn cancelled_writer_leaves_nothing_and_lets_the_queue_commit(db: TestDb) {
    let record = Uuid::now_v7();
    let lost = entry("cancelled", record, AuditAction::Update, None);
    let (written, wait) = tokio::sync::oneshot::channel::<()>();
    let cancelled = {
        let store = db.store.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.insert_audit(&lost).await.unwrap();
            written.send(()).unwrap();
            std::future::pending::<()>().await;
        })
    };
    wait.await.unwrap();
    let queued: Vec<_> = (0..8)
        .map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                tx.insert_audit(&entry("race", record, AuditAction::Update, None))
                    .await?;
                tx.commit().await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    cancelled.abort();
    for t in queued {
        t.await.unwrap().unwrap();
    }
    assert!(db.store.get_audit_entry(lost.id).await.unwrap().is_none());
    assert_eq!(audit_total(&db.store, record).await, 8);
}

/// Writers that commit, roll back, fail a statement or are dropped, racing (on SQLite they
/// share group commits): exactly the committed writes remain, each whole.
async fn racing_commits_rollbacks_and_drops_keep_exactly_the_committed(db: TestDb) {
    let record = Uuid::now_v7();
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let first = entry("race", record, AuditAction::Update, None);
                tx.insert_audit(&first).await?;
                tokio::task::yield_now().await;
                let second = entry("race", record, AuditAction::Update, None);
                tx.insert_audit(&second).await?;
                let kept = match i % 4 {
                    0 => {
                        tx.commit().await?;
                        true
                    }
                    1 => {
                        tx.rollback().await?;
                        false
                    }
                    2 => {
                        // A failed statement, then the transaction is dropped.
                        let mut bad = entry("race", record, AuditAction::Update, None);
                        bad.table_name = String::new();
                        assert!(tx.insert_audit(&bad).await.is_err());
                        false
                    }
                    _ => false,
                };
                Ok::<_, StoreError>((kept, [first.id, second.id]))
            })
        })
        .collect();
    let mut committed = Vec::new();
    let mut discarded = Vec::new();
    for t in tasks {
        let (kept, ids) = t.await.unwrap().unwrap();
        if kept {
            committed.extend(ids);
        } else {
            discarded.extend(ids);
        }
    }
    for id in &committed {
        assert!(db.store.get_audit_entry(*id).await.unwrap().is_some());
    }
    for id in &discarded {
        assert!(db.store.get_audit_entry(*id).await.unwrap().is_none());
    }
    assert_eq!(audit_total(&db.store, record).await, 24);
}

async fn system_events_round_trip_and_filter_by_severity(db: TestDb) {
    let mut all = Vec::new();
    for (i, sev) in Severity::ALL.into_iter().enumerate() {
        let mut ev = SystemEvent::new("startup", sev, format!("event {i}"), Some(json!({"i": i})))
            .unwrap()
            .with_actor(
                Actor {
                    user_id: Some(Uuid::now_v7()),
                    ip_address: Some("10.0.0.1".parse().unwrap()),
                    user_agent: None,
                },
                Some("sess-1".into()),
            );
        ev.created_at = betflow_domain::time::now() - Duration::minutes(10 - i as i64);
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_system_event(&ev).await.unwrap();
        tx.commit().await.unwrap();
        all.push(ev);
    }
    let page = db
        .store
        .query_system_events(&SystemEventQuery {
            min_severity: Some(Severity::Error),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0], all[4]);
    assert_eq!(page.items[1], all[3]);
    let by_type = db
        .store
        .query_system_events(&SystemEventQuery {
            event_type: Some("startup".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_type.total, 5);
}

/// The seed's daily maintenance: audit rows and system events past their retention go, the
/// oldest first, at most `limit` per call; newer ones stay.
async fn old_history_is_pruned_oldest_first_in_chunks(db: TestDb) {
    let now = betflow_domain::time::now();
    let record = Uuid::now_v7();
    let mut tx = db.store.begin().await.unwrap();
    for days in [400, 380, 366, 364, 10] {
        let mut e = entry("bets", record, AuditAction::Update, None);
        e.timestamp = now - Duration::days(days);
        tx.insert_audit(&e).await.unwrap();
        let mut ev =
            SystemEvent::new("maintenance", Severity::Info, format!("{days}"), None).unwrap();
        ev.created_at = now - Duration::days(days);
        tx.insert_system_event(&ev).await.unwrap();
    }
    tx.commit().await.unwrap();

    let year = now - Duration::days(365);
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.prune_audit(year, 2).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let left = db
        .store
        .query_audit(&AuditQuery {
            record_id: Some(record),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let ages: Vec<i64> = left
        .items
        .iter()
        .map(|e| (now - e.timestamp).num_days())
        .collect();
    assert_eq!(ages, [10, 364, 366], "the two oldest went first");
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.prune_audit(year, 2).await.unwrap(), 1);
    assert_eq!(tx.prune_audit(year, 2).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(audit_total(&db.store, record).await, 2);

    let half_year = now - Duration::days(182);
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.prune_system_events(half_year, 100).await.unwrap(), 4);
    // Rolled back: nothing is deleted.
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.prune_system_events(half_year, 100).await.unwrap(), 4);
    tx.commit().await.unwrap();
    let events = db
        .store
        .query_system_events(&SystemEventQuery {
            event_type: Some("maintenance".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.total, 1);
    assert_eq!(events.items[0].message, "10");
}
