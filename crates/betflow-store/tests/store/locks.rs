//! The store's lock order (see "Lock order" in the crate docs), on both backends: a bet
//! waiting for a market holds no account, a settlement's accounts are all taken before its
//! first transfer, and a deadlock that still happens is reported as contention.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{event, market, save_fixture, selection, sport, team, user};
use betflow_domain::identity::{Role, Session};
use betflow_domain::sportsbook::catalog::{MarketType, Selection};
use betflow_domain::sportsbook::wallet::deposit_transfers;
use betflow_domain::time::now;
use betflow_store::testing::TestDb;
use betflow_store::{Backend, Store};
use uuid::Uuid;

betflow_store::conformance!(
    a_bet_waiting_for_a_market_holds_no_account,
    a_settlement_locks_its_customers_accounts_before_any_transfer,
    a_deadlock_is_reported_as_contention,
    a_refresh_takes_the_user_before_the_session,
);

const GBP: &str = "GBP";

/// Customers funded with `funds` (GBP), and two markets with a selection each.
async fn setup(store: &Arc<dyn Store>, funds: &[i64]) -> (Vec<Uuid>, [Selection; 2]) {
    let mut tx = store.begin().await.unwrap();
    let mut users = Vec::new();
    for (i, amount) in funds.iter().enumerate() {
        let u = user(&format!("punter{i}"), Role::Customer);
        tx.insert_user(&u, "$argon2id$fake").await.unwrap();
        tx.lock_wallet(u.id, GBP).await.unwrap();
        tx.apply_transfers(&deposit_transfers(u.id, GBP, *amount, 0))
            .await
            .unwrap();
        users.push(u.id);
    }
    let s = sport("football");
    let (home, away) = (
        team(s.id, None, "Arsenal", "London"),
        team(s.id, None, "Chelsea", "London"),
    );
    let e1 = event(s.id, None, home.id, away.id, 3);
    let m1 = market(e1.id, MarketType::Moneyline, None);
    let s1 = selection(m1.id, "Home", "2.0");
    save_fixture(&mut tx, &s, [&home, &away], &e1, &m1, &[&s1]).await;
    let e2 = event(s.id, None, away.id, home.id, 4);
    let m2 = market(e2.id, MarketType::Moneyline, None);
    let s2 = selection(m2.id, "Home", "3.0");
    tx.save_event(&e2, false).await.unwrap();
    tx.save_market(&m2, false).await.unwrap();
    tx.save_selection(&s2, false).await.unwrap();
    tx.commit().await.unwrap();
    (users, [s1, s2])
}

/// Whether `f` finishes within `wait`.
async fn finishes<T>(wait: Duration, f: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(wait, f).await.ok()
}

/// A parlay whose second leg's market is locked by a settlement waits for it holding no
/// account of the customer: every leg is locked before any account, so the settlement,
/// which goes on to the customer's accounts, never waits for the bet that waits for it.
/// (Joined row by row, the first leg's rows took the accounts with them.) SQLite has one
/// writer, so there the bet simply comes after; its context reads the same.
async fn a_bet_waiting_for_a_market_holds_no_account(db: TestDb) {
    let (users, [open, settling]) = setup(&db.store, &[1_000]).await;
    let u = users[0];
    let legs = [open.id, settling.id];
    if db.store.backend() == Backend::Postgres {
        let mut settlement = db.store.begin().await.unwrap();
        settlement
            .lock_market(settling.market_id)
            .await
            .unwrap()
            .unwrap();
        let store = db.store.clone();
        let bet = tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let ctx = tx.bet_context(&legs, u, GBP).await.unwrap();
            tx.rollback().await.unwrap();
            ctx
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!bet.is_finished(), "the bet waits for the settled market");
        // The customer's accounts are free: the settlement would get them.
        let mut other = db.store.begin().await.unwrap();
        let wallet = finishes(Duration::from_secs(5), other.lock_wallet(u, GBP)).await;
        assert_eq!(
            wallet
                .expect("the waiting bet holds the accounts")
                .unwrap()
                .balance,
            1_000
        );
        other.rollback().await.unwrap();
        settlement.rollback().await.unwrap();
        let ctx = bet.await.unwrap();
        assert_eq!(ctx.selections.len(), 2);
        assert_eq!(ctx.balances.balance, 1_000);
    } else {
        let mut tx = db.store.begin().await.unwrap();
        let ctx = tx.bet_context(&legs, u, GBP).await.unwrap();
        tx.rollback().await.unwrap();
        let mut ids: Vec<Uuid> = ctx.selections.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        let mut want = legs.to_vec();
        want.sort_unstable();
        assert_eq!(ids, want);
        assert_eq!(ctx.markets.len(), 2);
        assert_eq!(ctx.events.len(), 2);
        assert_eq!(
            (ctx.balances.balance, ctx.balances.pending_balance),
            (1_000, 0)
        );
    }
}

/// A settlement reads its market's selections inside its own transaction (a read through
/// the pool could wait for a connection held by bets waiting on its market), and takes
/// every account of its bets' customers before its first transfer: another transaction's
/// wallet waits until it ends.
async fn a_settlement_locks_its_customers_accounts_before_any_transfer(db: TestDb) {
    let (users, [sel, _]) = setup(&db.store, &[1_000, 2_000]).await;
    let stranger = Uuid::now_v7();
    let mut settlement = db.store.begin().await.unwrap();
    settlement
        .lock_market(sel.market_id)
        .await
        .unwrap()
        .unwrap();
    let selections = settlement.market_selections(sel.market_id).await.unwrap();
    assert_eq!(
        selections.iter().map(|s| s.id).collect::<Vec<_>>(),
        [sel.id]
    );
    // Unsorted, repeated, and with a customer who has no accounts: all fine.
    let wallets = [
        (users[1], GBP.to_owned()),
        (stranger, GBP.to_owned()),
        (users[0], GBP.to_owned()),
        (users[1], GBP.to_owned()),
    ];
    settlement.lock_accounts(&wallets).await.unwrap();
    let store = db.store.clone();
    let u1 = users[1];
    let other = tokio::spawn(async move {
        let mut tx = store.begin().await.unwrap();
        let b = tx.lock_wallet(u1, GBP).await.unwrap();
        tx.rollback().await.unwrap();
        b.balance
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !other.is_finished(),
        "the customer's accounts wait for the settlement"
    );
    settlement.commit().await.unwrap();
    let balance = finishes(Duration::from_secs(5), other).await;
    assert_eq!(balance.expect("free once it ends").unwrap(), 2_000);
    assert!(
        db.store.get_balances(stranger).await.unwrap().is_empty(),
        "locking opens no account"
    );
}

/// Two transactions that take two customers' wallets in opposite orders (which no path of
/// ours does) deadlock on PostgreSQL: one is aborted, and the store says so with
/// [`StoreError::Contention`], which the engine retries, while the other goes on. SQLite
/// runs them one after the other, and neither is aborted.
async fn a_deadlock_is_reported_as_contention(db: TestDb) {
    let (users, _) = setup(&db.store, &[1_000, 1_000]).await;
    if db.store.backend() != Backend::Postgres {
        for order in [[users[0], users[1]], [users[1], users[0]]] {
            let mut tx = db.store.begin().await.unwrap();
            for u in order {
                tx.lock_wallet(u, GBP).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        return;
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let side = |first: Uuid, second: Uuid| {
        let (store, barrier) = (db.store.clone(), barrier.clone());
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.lock_wallet(first, GBP).await.unwrap();
            barrier.wait().await;
            let r = tx.lock_wallet(second, GBP).await;
            if r.is_ok() {
                tx.commit().await.unwrap();
            }
            r.map(|_| ())
        })
    };
    let (a, b) = (side(users[0], users[1]), side(users[1], users[0]));
    let results = [a.await.unwrap(), b.await.unwrap()];
    let aborted: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(aborted.len(), 1, "{results:?}");
    assert!(aborted[0].is_contention(), "{:?}", aborted[0]);
}

/// A token refresh locks the session's user before the session, as a suspension does
/// (the user, then every session of theirs). So a refresh arriving while a suspension
/// holds the user waits without holding the session the suspension goes on to revoke,
/// and both finish; taken the other way round, PostgreSQL would abort one of them. SQLite
/// runs them one after the other.
async fn a_refresh_takes_the_user_before_the_session(db: TestDb) {
    let u = user("sam", Role::Customer);
    let t = now();
    let session = Session {
        id: Uuid::now_v7(),
        family_id: Uuid::now_v7(),
        user_id: u.id,
        expires_at: t + chrono::Duration::days(7),
        ip_address: None,
        user_agent: None,
        created_at: t,
        used_at: None,
        revoked_at: None,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_user(&u, "$argon2id$fake").await.unwrap();
    tx.insert_session(&session, "rt-hash").await.unwrap();
    tx.commit().await.unwrap();
    let refresh = |store: Arc<dyn Store>| async move {
        let mut tx = store.begin().await?;
        let found = tx.lock_session_by_hash("rt-hash").await?;
        tx.lock_user(u.id).await?;
        tx.commit().await?;
        Ok::<_, betflow_store::StoreError>(found.map(|s| s.revoked_at.is_some()))
    };
    if db.store.backend() != Backend::Postgres {
        let mut suspension = db.store.begin().await.unwrap();
        suspension.lock_user(u.id).await.unwrap();
        assert_eq!(
            suspension.revoke_user_sessions(u.id, now()).await.unwrap(),
            1
        );
        suspension.commit().await.unwrap();
        assert_eq!(refresh(db.store.clone()).await.unwrap(), Some(true));
        return;
    }
    let mut suspension = db.store.begin().await.unwrap();
    suspension.lock_user(u.id).await.unwrap();
    let racer = tokio::spawn(refresh(db.store.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!racer.is_finished(), "the refresh waits for the user");
    let revoked = suspension.revoke_user_sessions(u.id, now()).await;
    assert_eq!(revoked.unwrap(), 1, "the suspension is not aborted");
    suspension.commit().await.unwrap();
    assert_eq!(
        racer.await.unwrap().unwrap(),
        Some(true),
        "the refresh is not aborted, and sees the session revoked"
    );
}
