//! The outbox on both backends: numbering in commit order, reading after a seq, the relay
//! cursor, and rollback leaving nothing behind.

use betflow_domain::events::NewEvent;
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
    let mut e = NewEvent::new(kind, json!({"n": n}), now());
    e.workflow_id = Some(Uuid::now_v7());
    e.roles = vec!["trader".into()];
    e
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
    assert_eq!(all[0].roles, ["trader"]);
    assert!(all[0].workflow_id.is_some());
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
