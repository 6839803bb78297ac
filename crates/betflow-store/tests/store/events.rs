//! The outbox on both backends: numbering in commit order, reading after a seq, the relay
//! cursor, and rollback leaving nothing behind.

use betflow_domain::events::{Address, NewEvent};
use betflow_domain::time::now;
use betflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(
    events_are_numbered_in_commit_order,
    a_rolled_back_transaction_leaves_no_event,
    the_relay_cursor_moves_under_its_lock,
);

fn ev(kind: &str, n: i64) -> NewEvent {
    NewEvent::new(kind, json!({"n": n}), now()).to([
        Address::Workflow(Uuid::now_v7()),
        Address::Role("trader".into()),
        Address::Topic("odds:live".into()),
    ])
}

async fn number_all(db: &TestDb) {
    while db.store.sequence_events(2).await.unwrap() > 0 {}
}

async fn events_are_numbered_in_commit_order(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&[ev("a.one", 1), ev("a.two", 2)])
        .await
        .unwrap();
    tx.insert_events(&[]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&[ev("b.one", 3)]).await.unwrap();
    tx.commit().await.unwrap();
    number_all(&db).await;

    let all = db.store.events_after(0, 100).await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["a.one", "a.two", "b.one"]);
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(all[0].data, json!({"n": 1}));
    assert_eq!(all[0].to.len(), 3);
    assert!(matches!(all[0].to[0], Address::Workflow(_)));
    assert_eq!(
        all[0].to[1..],
        [
            Address::Role("trader".into()),
            Address::Topic("odds:live".into())
        ]
    );
    assert_eq!(db.store.last_event_seq().await.unwrap(), seqs[2]);
    let after = db.store.events_after(seqs[0], 1).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].event_type, "a.two");
    assert!(db.store.events_after(seqs[2], 10).await.unwrap().is_empty());

    // An event committed later is numbered after every earlier one.
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&[ev("c.one", 4)]).await.unwrap();
    tx.commit().await.unwrap();
    number_all(&db).await;
    let next = db.store.events_after(seqs[2], 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event_type, "c.one");
}

async fn a_rolled_back_transaction_leaves_no_event(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&[ev("x.y", 1)]).await.unwrap();
    tx.rollback().await.unwrap();
    number_all(&db).await;
    assert!(db.store.events_after(0, 10).await.unwrap().is_empty());
    assert_eq!(db.store.last_event_seq().await.unwrap(), 0);
}

async fn the_relay_cursor_moves_under_its_lock(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&[ev("a.b", 1), ev("a.c", 2)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    number_all(&db).await;

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.lock_relay_cursor().await.unwrap(), 0);
    let batch = tx.events_after_in_tx(0, 10).await.unwrap();
    assert_eq!(batch.len(), 2);
    tx.set_relay_cursor(batch[1].seq).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    let cursor = tx.lock_relay_cursor().await.unwrap();
    assert_eq!(cursor, batch[1].seq);
    assert!(tx.events_after_in_tx(cursor, 10).await.unwrap().is_empty());
    tx.set_relay_cursor(0).await.unwrap();
    tx.rollback().await.unwrap();

    // A rolled-back move leaves the cursor where it was.
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.lock_relay_cursor().await.unwrap(), batch[1].seq);
    tx.rollback().await.unwrap();
}

/// The outbox rows of migration 0006's shape (a workflow, its creator, roles), and the rooms
/// each went to before events had addresses: workflow, creator, then each role.
struct Legacy {
    id: Uuid,
    workflow: Option<Uuid>,
    user: Option<Uuid>,
    roles: &'static str,
    rooms: Vec<Address>,
}

fn legacy_rows() -> Vec<Legacy> {
    let (w, u) = (Uuid::now_v7(), Uuid::now_v7());
    vec![
        Legacy {
            id: Uuid::now_v7(),
            workflow: Some(w),
            user: Some(u),
            roles: r#"["editor","risk_manager"]"#,
            rooms: vec![
                Address::Workflow(w),
                Address::User(u),
                Address::Role("editor".into()),
                Address::Role("risk_manager".into()),
            ],
        },
        Legacy {
            id: Uuid::now_v7(),
            workflow: None,
            user: None,
            roles: r#"["admin"]"#,
            rooms: vec![Address::Role("admin".into())],
        },
        Legacy {
            id: Uuid::now_v7(),
            workflow: Some(w),
            user: None,
            roles: "[]",
            rooms: vec![Address::Workflow(w)],
        },
        Legacy {
            id: Uuid::now_v7(),
            workflow: None,
            user: None,
            roles: "[]",
            rooms: vec![],
        },
    ]
}

const LEGACY_INSERT_PG: &str = "INSERT INTO outbox_events \
    (id, seq, event_type, workflow_id, user_id, roles, payload, created_at) \
    VALUES ($1, $2, 'task.created', $3, $4, $5, '{}', $6)";
const LEGACY_INSERT_SQLITE: &str = "INSERT INTO outbox_events \
    (id, seq, event_type, workflow_id, user_id, roles, payload, created_at) \
    VALUES (?, ?, 'task.created', ?, ?, ?, '{}', ?)";

/// Migration 0013 turns every row's workflow, creator and roles into its addresses, in the
/// order their rooms were sent to: an event written before keeps reaching the same sockets.
async fn rows_from_before_addresses_keep_their_rooms(store: TestDb, rows: &[Legacy]) {
    store.store.migrate().await.unwrap();
    let read = store.store.events_after(0, 10).await.unwrap();
    assert_eq!(read.len(), rows.len());
    for (event, row) in read.iter().zip(rows) {
        assert_eq!(event.id, row.id);
        assert_eq!(event.to, row.rooms);
    }
}

#[tokio::test]
async fn sqlite_rows_from_before_addresses_keep_their_rooms() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let dir = tempfile::tempdir().unwrap();
    let config = betflow_store::StoreConfig::embedded(dir.path());
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("betflow.db"))
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(12, &pool)
        .await
        .unwrap();
    let rows = legacy_rows();
    for (seq, r) in (1_i64..).zip(&rows) {
        sqlx::query(LEGACY_INSERT_SQLITE)
            .bind(r.id)
            .bind(seq)
            .bind(r.workflow)
            .bind(r.user)
            .bind(r.roles)
            .bind(now())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = betflow_store::connect(&config).await.unwrap();
    rows_from_before_addresses_keep_their_rooms(TestDb::from_store(store), &rows).await;
}

#[tokio::test]
async fn postgres_rows_from_before_addresses_keep_their_rooms() {
    let Some(url) = betflow_store::testing::fresh_postgres_url().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::migrate!("./migrations/postgres")
        .run_to(12, &pool)
        .await
        .unwrap();
    let rows = legacy_rows();
    for (seq, r) in (1_i64..).zip(&rows) {
        sqlx::query(LEGACY_INSERT_PG)
            .bind(r.id)
            .bind(seq)
            .bind(r.workflow)
            .bind(r.user)
            .bind(sqlx::types::Json(
                serde_json::from_str::<serde_json::Value>(r.roles).unwrap(),
            ))
            .bind(now())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let config = betflow_store::StoreConfig::with_url(url);
    let store = betflow_store::connect(&config).await.unwrap();
    rows_from_before_addresses_keep_their_rooms(TestDb::from_store(store), &rows).await;
}
