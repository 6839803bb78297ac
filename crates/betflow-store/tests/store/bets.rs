//! Placement batches on both backends: many customers' wallets read and locked together, and
//! their bets written together with each customer's stakes held by one guarded update.

use std::str::FromStr;
use std::sync::Arc;

use crate::common::{event, market, save_fixture, selection, sport, team, user};
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::events::{Address, Event, NewEvent};
use betflow_domain::identity::Role;
use betflow_domain::sportsbook::bets::{Bet, BetFilter, BetLeg, BetStatus, BetType};
use betflow_domain::sportsbook::catalog::{MarketType, Selection};
use betflow_domain::sportsbook::wallet::{
    Account, AccountKind, Transaction, TransactionStatus, TransactionType, Transfer, TransferKind,
    deposit_transfers,
};
use betflow_domain::time::now;
use betflow_store::testing::TestDb;
use betflow_store::{Placement, Store, StoreError};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(
    batch_context_reads_each_customers_wallet_in_id_order,
    record_placements_writes_every_bet_and_holds_each_customers_sum,
    an_overdrawing_batch_fails_and_leaves_nothing,
    placements_write_their_events_with_them_in_order,
    a_placement_that_cannot_be_covered_writes_no_event,
    a_deposit_writes_its_events_in_its_transaction_and_a_failed_one_none,
);

const GBP: &str = "GBP";

/// Customers funded with `funds` (GBP), and a selection at 2.0 to bet on.
async fn setup(store: &Arc<dyn Store>, funds: &[i64]) -> (Vec<Uuid>, Selection) {
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
    let e = event(s.id, None, home.id, away.id, 3);
    let m = market(e.id, MarketType::Moneyline, None);
    let sel = selection(m.id, "Home", "2.0");
    save_fixture(&mut tx, &s, [&home, &away], &e, &m, &[&sel]).await;
    tx.commit().await.unwrap();
    (users, sel)
}

/// A single at 2.0 on `sel`, as the engine would write it.
fn placement(user: Uuid, sel: &Selection, event_id: Uuid, stake: i64) -> Placement {
    let at = now();
    let id = Uuid::now_v7();
    let odds = Decimal::from_str("2.0").unwrap();
    let bet = Bet {
        id,
        user_id: user,
        bet_type: BetType::Single,
        status: BetStatus::Accepted,
        stake,
        total_odds: odds,
        potential_win: stake * 2,
        actual_win: 0,
        currency_code: GBP.into(),
        placed_at: at,
        settled_at: None,
        void_reason: None,
        metadata: json!({"oddsChangePolicy": "none"}),
        legs: vec![BetLeg {
            id: Uuid::now_v7(),
            bet_id: id,
            selection_id: sel.id,
            market_id: sel.market_id,
            event_id,
            odds,
            result: None,
            settled_at: None,
            selection_name: Some(sel.name.clone()),
        }],
    };
    let debit_id = Uuid::now_v7();
    let debit = Transaction {
        id: debit_id,
        user_id: user,
        tx_type: TransactionType::BetDebit,
        amount: stake,
        currency_code: GBP.into(),
        status: TransactionStatus::Completed,
        reference: Transaction::reference_for(TransactionType::BetDebit, debit_id),
        external_reference: None,
        description: None,
        payment_method_id: None,
        related_bet_id: Some(id),
        processor_response: None,
        fees: 0,
        net_amount: stake,
        processed_at: Some(at),
        created_at: at,
        updated_at: at,
    };
    let hold = Transfer::new(
        Account::customer(user, AccountKind::Cash, GBP),
        Account::customer(user, AccountKind::Pending, GBP),
        stake,
        TransferKind::StakeHold,
    )
    .for_bet(id)
    .for_transaction(debit_id);
    // A large audit row, as a real bet's is, so a batch of many needs several statements.
    let audit = AuditEntry::new(
        "bets",
        id,
        AuditAction::Insert,
        None,
        Some(json!({"bet": bet, "note": "x".repeat(600)})),
        Actor {
            user_id: Some(user),
            ip_address: None,
            user_agent: None,
        },
    )
    .unwrap();
    Placement {
        bet,
        debit,
        hold,
        audit,
        events: Vec::new(),
    }
}

/// `p` carrying two events: to its customer, and to its market's watchers.
fn announced(mut p: Placement, kind: &str) -> Placement {
    let (user, market) = (p.bet.user_id, p.bet.legs[0].market_id);
    p.events = vec![
        NewEvent::new(kind, json!({"betId": p.bet.id, "n": 1}), now()).to([Address::User(user)]),
        NewEvent::new(kind, json!({"betId": p.bet.id, "n": 2}), now())
            .to([Address::Market(market), Address::Topic("bets".into())]),
    ];
    p
}

/// Every event in the outbox, numbered, oldest first.
async fn outbox(store: &Arc<dyn Store>) -> Vec<Event> {
    while store.sequence_events(100).await.unwrap() > 0 {}
    store.events_after(0, 1_000).await.unwrap()
}

async fn balances(store: &Arc<dyn Store>, user: Uuid) -> (i64, i64) {
    let mut tx = store.begin().await.unwrap();
    let b = tx.lock_wallet(user, GBP).await.unwrap();
    tx.rollback().await.unwrap();
    (b.balance, b.pending_balance)
}

async fn bets_of(store: &Arc<dyn Store>, user: Uuid) -> u64 {
    let f = BetFilter {
        user_id: Some(user),
        ..Default::default()
    };
    store.list_bets(&f).await.unwrap().total
}

async fn batch_context_reads_each_customers_wallet_in_id_order(db: TestDb) {
    let (users, sel) = setup(&db.store, &[3_000, 5_000]).await;
    let stranger = Uuid::now_v7();
    let mut asked = vec![
        (users[1], GBP.to_owned()),
        (stranger, GBP.to_owned()),
        (users[0], GBP.to_owned()),
    ];
    asked.sort();
    let mut tx = db.store.begin().await.unwrap();
    let ctx = tx
        .batch_context(&[sel.id, Uuid::now_v7()], &asked)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        ctx.selections.len(),
        1,
        "the unknown selection is not there"
    );
    assert_eq!(ctx.selections[0].id, sel.id);
    assert_eq!(ctx.markets.len(), 1);
    assert_eq!(ctx.events.len(), 1);
    let got: Vec<(Uuid, i64, i64)> = ctx
        .wallets
        .iter()
        .map(|(b, _)| (b.user_id, b.balance, b.pending_balance))
        .collect();
    let mut want = vec![(users[0], 3_000, 0), (users[1], 5_000, 0)];
    want.sort();
    assert_eq!(got, want, "customers without accounts are left out");
    assert!(ctx.wallets.iter().all(|(_, rg)| rg.is_none()));
}

async fn record_placements_writes_every_bet_and_holds_each_customers_sum(db: TestDb) {
    let (users, sel) = setup(&db.store, &[10_000, 10_000, 10_000]).await;
    let event_id = {
        let m = db.store.get_market(sel.market_id).await.unwrap().unwrap();
        m.event_id
    };
    // 30 bets of three customers, interleaved: far more than one statement's worth.
    let batch: Vec<Placement> = (0..30)
        .map(|i| placement(users[i % 3], &sel, event_id, 100 * (1 + i as i64 % 3)))
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.record_placements(&batch).await.unwrap();
    tx.commit().await.unwrap();
    for (c, user) in users.iter().enumerate() {
        let staked: i64 = batch
            .iter()
            .filter(|p| p.bet.user_id == *user)
            .map(|p| p.bet.stake)
            .sum();
        assert_eq!(staked, 100 * 10 * (1 + c as i64), "punter{c}'s stakes");
        assert_eq!(balances(&db.store, *user).await, (10_000 - staked, staked));
        assert_eq!(bets_of(&db.store, *user).await, 10);
    }
    let first = db.store.get_bet(batch[0].bet.id).await.unwrap().unwrap();
    assert_eq!(first.legs.len(), 1);
    assert_eq!(first.legs[0].selection_id, sel.id);
    let tx = db
        .store
        .get_transaction(batch[29].debit.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.related_bet_id, Some(batch[29].bet.id));
    let audit = db.store.get_audit_entry(batch[17].audit.id).await.unwrap();
    assert_eq!(audit.unwrap().record_id, batch[17].bet.id);
}

async fn an_overdrawing_batch_fails_and_leaves_nothing(db: TestDb) {
    let (users, sel) = setup(&db.store, &[1_000, 500]).await;
    let event_id = db
        .store
        .get_market(sel.market_id)
        .await
        .unwrap()
        .unwrap()
        .event_id;
    // Each bet alone is covered; the second customer's two together are not.
    let batch = vec![
        announced(placement(users[0], &sel, event_id, 400), "bet.placed"),
        announced(placement(users[1], &sel, event_id, 300), "bet.placed"),
        announced(placement(users[1], &sel, event_id, 300), "bet.placed"),
    ];
    let mut tx = db.store.begin().await.unwrap();
    let err = tx.record_placements(&batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientFunds { owner, .. } if owner == users[1]),
        "{err:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(balances(&db.store, users[0]).await, (1_000, 0));
    assert_eq!(balances(&db.store, users[1]).await, (500, 0));
    assert_eq!(bets_of(&db.store, users[0]).await, 0);
    assert_eq!(bets_of(&db.store, users[1]).await, 0);
    assert!(db.store.get_bet(batch[0].bet.id).await.unwrap().is_none());
    assert!(
        outbox(&db.store).await.is_empty(),
        "no event of the failed batch"
    );
}

/// A placement's events are written by its own statement, after the events of every write
/// committed before it and in the order the engine gave them, with their addresses.
async fn placements_write_their_events_with_them_in_order(db: TestDb) {
    let (users, sel) = setup(&db.store, &[10_000, 10_000]).await;
    let event_id = db
        .store
        .get_market(sel.market_id)
        .await
        .unwrap()
        .unwrap()
        .event_id;
    let single = announced(placement(users[0], &sel, event_id, 100), "bet.placed");
    let mut tx = db.store.begin().await.unwrap();
    tx.record_placement(&single).await.unwrap();
    tx.commit().await.unwrap();
    // A batch of placements, some with events and some without.
    let batch = vec![
        announced(placement(users[1], &sel, event_id, 200), "bet.batched"),
        placement(users[0], &sel, event_id, 300),
        announced(placement(users[0], &sel, event_id, 400), "bet.batched"),
    ];
    let mut tx = db.store.begin().await.unwrap();
    tx.record_placements(&batch).await.unwrap();
    tx.commit().await.unwrap();

    let read = outbox(&db.store).await;
    let want: Vec<&NewEvent> = single
        .events
        .iter()
        .chain(batch.iter().flat_map(|p| &p.events))
        .collect();
    assert_eq!(read.len(), 6);
    for (got, want) in read.iter().zip(&want) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.event_type, want.event_type);
        assert_eq!(got.to, want.to);
        assert_eq!(got.data, want.payload);
    }
    assert!(read.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        read[1].to,
        [
            Address::Market(sel.market_id),
            Address::Topic("bets".into())
        ]
    );
    assert_eq!(balances(&db.store, users[0]).await, (10_000 - 800, 800));
}

async fn a_placement_that_cannot_be_covered_writes_no_event(db: TestDb) {
    let (users, sel) = setup(&db.store, &[500]).await;
    let event_id = db
        .store
        .get_market(sel.market_id)
        .await
        .unwrap()
        .unwrap()
        .event_id;
    let p = announced(placement(users[0], &sel, event_id, 600), "bet.placed");
    let mut tx = db.store.begin().await.unwrap();
    let err = tx.record_placement(&p).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientFunds { .. }),
        "{err:?}"
    );
    tx.rollback().await.unwrap();
    assert!(outbox(&db.store).await.is_empty());
    assert_eq!(bets_of(&db.store, users[0]).await, 0);
    // The same placement, covered, writes them.
    let p = announced(placement(users[0], &sel, event_id, 500), "bet.placed");
    let mut tx = db.store.begin().await.unwrap();
    tx.record_placement(&p).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outbox(&db.store).await.len(), 2);
}

/// Wallet movements are several writes in one transaction: their events go in with
/// `insert_events` before the commit, and a movement that fails takes them with it.
async fn a_deposit_writes_its_events_in_its_transaction_and_a_failed_one_none(db: TestDb) {
    let (users, _) = setup(&db.store, &[1_000]).await;
    let user = users[0];
    let deposited = |n: i64| {
        NewEvent::new("wallet.deposited", json!({"n": n}), now()).to([Address::User(user)])
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.lock_wallet(user, GBP).await.unwrap();
    tx.apply_transfers(&deposit_transfers(user, GBP, 250, 0))
        .await
        .unwrap();
    let events = [deposited(1), deposited(2)];
    tx.insert_events(&events).await.unwrap();
    tx.commit().await.unwrap();
    // A withdrawal the customer cannot cover: its event was inserted before the failing
    // transfer, and goes with the rollback.
    let mut tx = db.store.begin().await.unwrap();
    tx.lock_wallet(user, GBP).await.unwrap();
    tx.insert_events(&[deposited(3)]).await.unwrap();
    let overdraw = Transfer::new(
        Account::customer(user, AccountKind::Cash, GBP),
        Account::house(AccountKind::Clearing, GBP),
        5_000,
        TransferKind::Withdrawal,
    );
    let err = tx.apply_transfers(&[overdraw]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientFunds { .. }),
        "{err:?}"
    );
    tx.rollback().await.unwrap();

    let read = outbox(&db.store).await;
    let ids: Vec<Uuid> = read.iter().map(|e| e.id).collect();
    assert_eq!(ids, [events[0].id, events[1].id]);
    assert_eq!(read[0].to, [Address::User(user)]);
    assert_eq!(balances(&db.store, user).await, (1_250, 0));
}
