//! Users, API keys and sessions on both backends.

use crate::common;
use betflow_domain::PageRequest;
use betflow_domain::identity::{ApiKey, Role, Session, User, UserStatus};
use betflow_domain::time::now;
use betflow_store::testing::TestDb;
use betflow_store::{Store, StoreError};
use chrono::Duration;
use std::sync::Arc;
use uuid::Uuid;

betflow_store::conformance!(
    users_round_trip_and_are_found_case_insensitively,
    duplicate_username_or_email_is_a_named_conflict,
    user_updates_persist,
    api_keys_are_found_by_hash_listed_and_revoked_once,
    refresh_tokens_are_used_once_even_under_races,
    revoking_a_family_or_a_user_ends_sessions,
);

fn user(name: &str) -> User {
    User {
        permissions: vec!["audit:read".into()],
        ..common::user(name, Role::Trader)
    }
}

async fn add_user(store: &Arc<dyn Store>, u: &User) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(u, "$argon2id$fake").await.unwrap();
    tx.commit().await.unwrap();
}

async fn users_round_trip_and_are_found_case_insensitively(db: TestDb) {
    let alice = user("Alice");
    add_user(&db.store, &alice).await;
    assert_eq!(
        db.store.get_user(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    for login in ["alice", "ALICE", "Alice@Example.com"] {
        let (found, hash) = db
            .store
            .find_user_credentials(login)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, alice);
        assert_eq!(hash, "$argon2id$fake");
    }
    assert!(
        db.store
            .find_user_credentials("bob")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.store.count_users().await.unwrap(), 1);
    let page = db.store.list_users(PageRequest::default()).await.unwrap();
    assert_eq!(page.items, vec![alice]);
}

async fn duplicate_username_or_email_is_a_named_conflict(db: TestDb) {
    add_user(&db.store, &user("carol")).await;
    let mut same_name = user("CAROL");
    same_name.email = "other@example.com".into();
    let mut same_email = user("caroline");
    same_email.email = "carol@example.com".into();
    for (u, index) in [
        (same_name, "users_username_key"),
        (same_email, "users_email_key"),
    ] {
        let mut tx = db.store.begin().await.unwrap();
        match tx.insert_user(&u, "h").await.unwrap_err() {
            StoreError::Conflict { constraint } => {
                assert!(constraint.contains(index), "{constraint}")
            }
            other => panic!("{other:?}"),
        }
    }
}

async fn user_updates_persist(db: TestDb) {
    let mut u = user("dave");
    add_user(&db.store, &u).await;
    let mut tx = db.store.begin().await.unwrap();
    let locked = tx.lock_user(u.id).await.unwrap().unwrap();
    assert_eq!(locked, u);
    u.role = Role::RiskManager;
    u.permissions = vec![];
    u.status = UserStatus::Suspended;
    u.failed_login_attempts = 5;
    u.locked_until = Some(now() + Duration::minutes(15));
    u.last_login_at = Some(now());
    u.updated_at = now();
    tx.update_user(&u).await.unwrap();
    tx.set_password_hash(u.id, "new-hash", now()).await.unwrap();
    tx.commit().await.unwrap();
    let (got, hash) = db
        .store
        .find_user_credentials("dave")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "new-hash");
    assert_eq!(got.role, Role::RiskManager);
    assert_eq!(got.status, UserStatus::Suspended);
    assert_eq!(got.failed_login_attempts, 5);
    assert_eq!(got.locked_until, u.locked_until);
    assert!(
        db.store
            .begin()
            .await
            .unwrap()
            .lock_user(Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}

async fn api_keys_are_found_by_hash_listed_and_revoked_once(db: TestDb) {
    let owner = user("erin");
    add_user(&db.store, &owner).await;
    let t = now();
    let key = ApiKey {
        id: Uuid::now_v7(),
        user_id: owner.id,
        name: "ci".into(),
        prefix: "bf_abc123".into(),
        permissions: vec!["workflows:read".into()],
        is_active: true,
        expires_at: Some(t + Duration::days(30)),
        last_used: None,
        revoked_at: None,
        created_at: t,
        updated_at: t,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_api_key(&key, "hash-1").await.unwrap();
    tx.commit().await.unwrap();

    let (found, found_owner) = db
        .store
        .find_api_key_by_hash("hash-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, key);
    assert_eq!(found_owner, owner);
    assert!(
        db.store
            .find_api_key_by_hash("hash-2")
            .await
            .unwrap()
            .is_none()
    );
    let mine = db
        .store
        .list_api_keys(Some(owner.id), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(mine.items, vec![key.clone()]);
    let theirs = db
        .store
        .list_api_keys(Some(Uuid::now_v7()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(theirs.total, 0);

    let mut tx = db.store.begin().await.unwrap();
    tx.touch_api_key(key.id, t).await.unwrap();
    assert!(tx.revoke_api_key(key.id, t).await.unwrap());
    assert!(!tx.revoke_api_key(key.id, t).await.unwrap());
    tx.commit().await.unwrap();
    let revoked = db.store.get_api_key(key.id).await.unwrap().unwrap();
    assert!(!revoked.is_active);
    assert_eq!(revoked.revoked_at, Some(t));
    assert_eq!(revoked.last_used, Some(t));
    assert!(!revoked.is_usable(now()));

    let mut dup = key.clone();
    dup.id = Uuid::now_v7();
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.insert_api_key(&dup, "hash-1").await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
}

fn session(user_id: Uuid, family_id: Uuid) -> Session {
    Session {
        id: Uuid::now_v7(),
        family_id,
        user_id,
        expires_at: now() + Duration::days(7),
        ip_address: Some("192.0.2.1".parse().unwrap()),
        user_agent: Some("test".into()),
        created_at: now(),
        used_at: None,
        revoked_at: None,
    }
}

async fn refresh_tokens_are_used_once_even_under_races(db: TestDb) {
    let u = user("frank");
    add_user(&db.store, &u).await;
    let s = session(u.id, Uuid::now_v7());
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_session(&s, "rt-hash").await.unwrap();
    tx.commit().await.unwrap();

    let races: Vec<_> = (0..8)
        .map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let found = tx.lock_session_by_hash("rt-hash").await.unwrap().unwrap();
                let won = tx.mark_session_used(found.id, now()).await.unwrap();
                tx.commit().await.unwrap();
                won
            })
        })
        .collect();
    let mut winners = 0;
    for r in races {
        winners += usize::from(r.await.unwrap());
    }
    assert_eq!(winners, 1);
    let mut tx = db.store.begin().await.unwrap();
    let used = tx.lock_session_by_hash("rt-hash").await.unwrap().unwrap();
    assert!(used.used_at.is_some());
    assert_eq!(used.ip_address, s.ip_address);
    assert!(tx.lock_session_by_hash("nope").await.unwrap().is_none());
}

async fn revoking_a_family_or_a_user_ends_sessions(db: TestDb) {
    let u = user("grace");
    add_user(&db.store, &u).await;
    let (fam_a, fam_b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_session(&session(u.id, fam_a), "a1")
        .await
        .unwrap();
    tx.insert_session(&session(u.id, fam_a), "a2")
        .await
        .unwrap();
    tx.insert_session(&session(u.id, fam_b), "b1")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.session_family_active(fam_a, now()).await.unwrap());
    assert!(
        !db.store
            .session_family_active(Uuid::now_v7(), now())
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .session_family_active(fam_a, now() + Duration::days(8))
            .await
            .unwrap()
    );

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.revoke_session_family(fam_a, now()).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert!(!db.store.session_family_active(fam_a, now()).await.unwrap());
    assert!(db.store.session_family_active(fam_b, now()).await.unwrap());

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.revoke_user_sessions(u.id, now()).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(!db.store.session_family_active(fam_b, now()).await.unwrap());
}
