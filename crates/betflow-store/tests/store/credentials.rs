//! Credentials, definition variables and the re-encryption writes of key rotation, on both
//! backends. The store only ever sees ciphertext; these tests use opaque strings for it.

use betflow_domain::PageRequest;
use betflow_domain::automation::credentials::{StoredCredential, StoredVariable};
use betflow_domain::time::now;
use betflow_domain::webhooks::Webhook;
use betflow_domain::workflow::record::{Definition, Version};
use betflow_domain::workflow::seeded;
use betflow_store::StoreError;
use betflow_store::testing::TestDb;
use chrono::Duration;
use uuid::Uuid;

betflow_store::conformance!(
    credentials_round_trip_list_and_change,
    reencryption_replaces_only_the_value_read,
    variables_are_replaced_as_a_set,
);

fn credential(owner: Option<Uuid>, name: &str, key_id: &str) -> StoredCredential {
    let t = now();
    StoredCredential {
        id: Uuid::now_v7(),
        name: name.into(),
        kind: "http_bearer".into(),
        owner_id: owner,
        ciphertext: format!("v1:{key_id}:{name}-sealed"),
        key_id: key_id.into(),
        created_at: t,
        updated_at: t,
        expires_at: None,
        last_used_at: None,
        deleted_at: None,
    }
}

async fn insert(db: &TestDb, c: &StoredCredential) {
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_credential(c).await.unwrap();
    tx.commit().await.unwrap();
}

async fn definition(db: &TestDb, key: &str) -> Uuid {
    let s = seeded::line_change_approval();
    let t = now();
    let d = Definition {
        id: Uuid::now_v7(),
        key: key.into(),
        name: key.into(),
        description: None,
        category: None,
        tags: vec![],
        data_schema: None,
        latest_version: 1,
        is_active: true,
        created_by: None,
        created_at: t,
        updated_at: t,
        deleted_at: None,
    };
    let v = Version {
        definition_id: d.id,
        version: 1,
        graph: s.graph,
        published_by: None,
        published_at: t,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_definition(&d).await.unwrap();
    tx.insert_version(&v).await.unwrap();
    tx.commit().await.unwrap();
    d.id
}

async fn credentials_round_trip_list_and_change(db: TestDb) {
    let alice = Uuid::now_v7();
    let a = credential(Some(alice), "a", "k1");
    let b = credential(Some(Uuid::now_v7()), "b", "k1");
    let c = credential(Some(alice), "c", "k2");
    for x in [&a, &b, &c] {
        insert(&db, x).await;
    }
    let got = db.store.get_credential(a.id).await.unwrap().unwrap();
    assert_eq!(got.name, "a");
    assert_eq!(got.ciphertext, a.ciphertext);
    assert_eq!(got.owner_id, Some(alice));
    assert!(
        db.store
            .get_credential(Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );

    let all = db
        .store
        .list_credentials(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    let names: Vec<&str> = all.items.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let mine = db
        .store
        .list_credentials(Some(alice), PageRequest::new(Some(2), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!((mine.total, mine.items.len()), (2, 1));
    assert_eq!(mine.items[0].name, "c");

    // Change, use and delete (soft).
    let t = now() + Duration::seconds(5);
    let mut tx = db.store.begin().await.unwrap();
    let mut locked = tx.lock_credential(a.id).await.unwrap().unwrap();
    locked.name = "a2".into();
    locked.expires_at = Some(t);
    locked.updated_at = t;
    assert!(tx.update_credential(&locked).await.unwrap());
    assert!(tx.mark_credential_used(b.id, t).await.unwrap());
    assert!(!tx.mark_credential_used(Uuid::now_v7(), t).await.unwrap());
    let mut gone = c.clone();
    gone.deleted_at = Some(t);
    assert!(tx.update_credential(&gone).await.unwrap());
    tx.commit().await.unwrap();
    let a2 = db.store.get_credential(a.id).await.unwrap().unwrap();
    assert_eq!(a2.name, "a2");
    assert_eq!(
        a2.expires_at.map(|e| e.timestamp_micros()),
        Some(t.timestamp_micros())
    );
    let b2 = db.store.get_credential(b.id).await.unwrap().unwrap();
    assert!(b2.last_used_at.is_some());
    let listed = db
        .store
        .list_credentials(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 2, "deleted ones are not listed");
    assert!(
        db.store
            .get_credential(c.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

async fn reencryption_replaces_only_the_value_read(db: TestDb) {
    let a = credential(None, "a", "old");
    let b = credential(None, "b", "old");
    let c = credential(None, "c", "new");
    for x in [&a, &b, &c] {
        insert(&db, x).await;
    }
    let stale = db.store.credentials_not_under("new", 10).await.unwrap();
    assert_eq!(stale.len(), 2);
    assert_eq!(
        db.store
            .credentials_not_under("new", 1)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.reencrypt_credential(a.id, &a.ciphertext, "v1:new:a", "new")
            .await
            .unwrap()
    );
    // An edit got there first: the value read is gone, nothing is replaced.
    assert!(
        !tx.reencrypt_credential(b.id, "v1:old:something-else", "v1:new:b", "new")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let left = db.store.credentials_not_under("new", 10).await.unwrap();
    assert_eq!(left.iter().map(|c| c.id).collect::<Vec<_>>(), [b.id]);
    let a2 = db.store.get_credential(a.id).await.unwrap().unwrap();
    assert_eq!(
        (a2.ciphertext.as_str(), a2.key_id.as_str()),
        ("v1:new:a", "new")
    );

    // Webhook secrets: replaced only if both still are what was read.
    let t = now();
    let w = Webhook {
        id: Uuid::now_v7(),
        name: "w".into(),
        url: "https://hooks.example.com/w".into(),
        events: vec!["*".into()],
        description: None,
        enabled: true,
        timeout_ms: 5000,
        rate_limit: None,
        retry_attempts: 1,
        secret: "whsec_clear".into(),
        previous_secret: None,
        previous_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_by: None,
        created_at: t,
        updated_at: t,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_webhook(&w).await.unwrap();
    assert!(
        !tx.reencrypt_webhook_secrets(w.id, ("whsec_other", None), ("v1:new:x", None))
            .await
            .unwrap()
    );
    assert!(
        !tx.reencrypt_webhook_secrets(
            w.id,
            ("whsec_clear", Some("p")),
            ("v1:new:x", Some("v1:new:p"))
        )
        .await
        .unwrap()
    );
    assert!(
        tx.reencrypt_webhook_secrets(w.id, ("whsec_clear", None), ("v1:new:x", None))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let stored = db.store.get_webhook(w.id).await.unwrap().unwrap();
    assert_eq!(stored.secret, "v1:new:x");
    assert!(stored.previous_secret.is_none());
}

fn variable(definition_id: Uuid, name: &str, secret: Option<&str>) -> StoredVariable {
    let t = now();
    StoredVariable {
        definition_id,
        name: name.into(),
        value: match secret {
            Some(k) => format!("v1:{k}:{name}"),
            None => "\"clear\"".into(),
        },
        is_secret: secret.is_some(),
        key_id: secret.map(str::to_owned),
        created_at: t,
        updated_at: t,
    }
}

async fn variables_are_replaced_as_a_set(db: TestDb) {
    let d1 = definition(&db, "vars_one").await;
    let d2 = definition(&db, "vars_two").await;
    let mut tx = db.store.begin().await.unwrap();
    tx.replace_variables(
        d1,
        &[
            variable(d1, "b", None),
            variable(d1, "a", Some("old")),
            variable(d1, "c", Some("new")),
        ],
    )
    .await
    .unwrap();
    tx.replace_variables(d2, &[variable(d2, "a", Some("old"))])
        .await
        .unwrap();
    assert_eq!(tx.variables_in_tx(d1).await.unwrap().len(), 3);
    tx.commit().await.unwrap();
    let vars = db.store.list_variables(d1).await.unwrap();
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(vars[0].is_secret && !vars[1].is_secret);
    assert_eq!(vars[1].value, "\"clear\"");
    assert_eq!(vars[1].key_id, None);

    let stale = db.store.variables_not_under("new", 10).await.unwrap();
    assert_eq!(stale.len(), 2, "clear values are never stale");
    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.reencrypt_variable(d1, "a", "v1:old:a", "v1:new:a", "new")
            .await
            .unwrap()
    );
    assert!(
        !tx.reencrypt_variable(d2, "a", "v1:old:changed", "v1:new:a", "new")
            .await
            .unwrap()
    );
    assert!(
        !tx.reencrypt_variable(d1, "b", "\"clear\"", "v1:new:b", "new")
            .await
            .unwrap(),
        "a clear value is never replaced by ciphertext"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        db.store.variables_not_under("new", 10).await.unwrap().len(),
        1
    );

    // A replacement is the whole set; a name twice is a conflict and changes nothing.
    let mut tx = db.store.begin().await.unwrap();
    tx.replace_variables(d1, &[variable(d1, "z", None)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let names: Vec<String> = db
        .store
        .list_variables(d1)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["z"]);
    let mut tx = db.store.begin().await.unwrap();
    let err = tx
        .replace_variables(d1, &[variable(d1, "x", None), variable(d1, "x", None)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    drop(tx);
    assert_eq!(db.store.list_variables(d1).await.unwrap().len(), 1);
    assert_eq!(db.store.list_variables(d2).await.unwrap().len(), 1);
}
