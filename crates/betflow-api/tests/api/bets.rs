//! Wallets, the ledger, idempotency, bets, settlement and exposure over HTTP, on both
//! backends.

use std::time::{Duration, Instant};

use crate::common::{TestServer, identity_config, spawn_custom, test_config};
use betflow_domain::sportsbook::bets::BetSettings;
use betflow_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    deposits_replay_by_key_and_complete_once,
    withdrawals_need_verification_and_reserve_the_amount,
    payment_methods_hold_no_card_numbers_and_are_ones_own,
    limits_and_breaks_are_validated_and_enforced,
    bets_refused_for_stake_funds_odds_and_slip_rules,
    bets_refused_for_market_and_event_state_and_shape,
    bets_take_higher_odds_when_asked_and_wait_out_the_in_play_delay,
    bets_refused_by_limits_and_self_exclusion,
    bets_settle_resettle_void_and_exposure,
    a_resettlement_that_would_take_back_withdrawn_money_is_refused_whole,
    fifty_concurrent_bets_never_overdraw,
    concurrent_customers_are_each_decided_on_their_own_funds,
    random_concurrent_stakes_leave_every_wallet_exact,
    random_money_histories_keep_every_invariant,
    cooling_off_and_breaks_follow_an_injected_clock,
    line_change_above_threshold_goes_through_approval,
    provider_callbacks_are_verified,
    every_money_movement_is_audited,
    wallet_lists_are_pages_and_creates_say_where,
);

const SETTINGS: BetSettings = BetSettings {
    min_stake: 100,
    max_stake: 40_000,
    max_payout: 150_000,
    in_play_delay: Duration::from_millis(300),
};

async fn server(db: TestDb) -> TestServer {
    spawn_custom(db, test_config(), None, identity_config(), |c| {
        betflow_engine::EngineConfig {
            bets: SETTINGS,
            ..c
        }
    })
    .await
}

/// Registers a customer (GBP) and returns (user id, token).
async fn customer(s: &TestServer, name: &str) -> (String, String) {
    let res = s
        .client
        .post(s.url("/api/v1/auth/register"))
        .json(
            &json!({"username": name, "email": format!("{name}@example.com"),
            "password": "a-long-password", "dateOfBirth": "1990-01-01", "countryCode": "GB",
            "currencyCode": "GBP", "timezone": "Europe/London"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    let id = v["data"]["user"]["id"].as_str().unwrap().to_owned();
    let token = s.login(name, "a-long-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

/// A completed deposit of `amount`; its transaction id.
async fn fund(s: &TestServer, admin: &str, token: &str, amount: i64) -> String {
    let id = s.deposit(token, amount).await.created_id();
    s.resolve(admin, &id, json!({"status": "completed"}))
        .await
        .ok();
    id
}

/// Marks a customer's identity verified (withdrawals need it).
async fn verify(s: &TestServer, admin: &str, user: &str) {
    let path = format!("/api/v1/users/{user}/verification");
    s.put_as(admin, &path, json!({"status": "verified"}))
        .await
        .ok();
}

/// (balance, pending balance).
async fn wallet(s: &TestServer, token: &str) -> (i64, i64) {
    let w = s.wallet(token).await.ok();
    (
        w["balance"].as_i64().unwrap(),
        w["pendingBalance"].as_i64().unwrap(),
    )
}

async fn assert_balanced(s: &TestServer, admin: &str) {
    let r = s.reconciliation(admin).await.ok();
    assert_eq!(r["balanced"], true, "{r}");
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// A catalog: events `e[0]` (A v B) and `e[1]` (B v A) in the future, each with a moneyline
/// market `m[i]` of two selections `sel[i]` at 2.0 and 3.0.
struct Book {
    sport: String,
    teams: Vec<String>,
    m: Vec<String>,
    sel: Vec<[String; 2]>,
}

async fn book(s: &TestServer, admin: &str) -> Book {
    let sport = s
        .post_as(
            admin,
            "/api/v1/sports",
            json!({"name": "football", "displayName": "Football", "slug": "football"}),
        )
        .await
        .created_id();
    let mut teams = vec![];
    for name in ["Arsenal", "Chelsea"] {
        let body = json!({"sportId": sport, "name": name, "displayName": name,
                          "slug": name.to_lowercase()});
        teams.push(s.post_as(admin, "/api/v1/teams", body).await.created_id());
    }
    let mut b = Book {
        sport,
        teams,
        m: vec![],
        sel: vec![],
    };
    for i in 0..2 {
        let (m, sel) = fixture(s, admin, &b, i, json!({})).await;
        b.m.push(m);
        b.sel.push(sel);
    }
    b
}

/// An event with a market of two selections (2.0 and 3.0); `extra` goes into the event.
async fn fixture(
    s: &TestServer,
    admin: &str,
    b: &Book,
    i: usize,
    extra: Value,
) -> (String, [String; 2]) {
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let mut ev = json!({"sportId": b.sport, "homeTeamId": b.teams[i % 2],
                        "awayTeamId": b.teams[(i + 1) % 2], "startTime": start});
    for (k, v) in extra.as_object().unwrap() {
        ev[k] = v.clone();
    }
    let in_play = extra.get("status").is_some_and(|s| s == "live");
    let event = s.post_as(admin, "/api/v1/events", ev).await.created_id();
    let market = json!({"eventId": event, "type": "moneyline", "name": "Match result",
                        "inPlay": in_play});
    let market = s
        .post_as(admin, "/api/v1/markets", market)
        .await
        .created_id();
    let selection = |name: &str, odds: &str| {
        let body = json!({"marketId": market, "name": name, "odds": odds});
        async move { s.post_as(admin, "/api/v1/selections", body).await }
    };
    let home = selection("Home", "2.0").await.created_id();
    let away = selection("Away", "3.0").await.created_id();
    (market, [home, away])
}

/// A two-leg parlay of (selection, odds) pairs.
fn parlay(a: (&str, &str), c: (&str, &str), stake: i64) -> Value {
    json!({"type": "parlay", "stake": stake, "legs": [
        {"selectionId": a.0, "odds": a.1}, {"selectionId": c.0, "odds": c.1}]})
}

fn single(sel: &str, odds: &str, stake: i64) -> Value {
    json!({"type": "single", "stake": stake, "legs": [{"selectionId": sel, "odds": odds}]})
}

const DEPOSITS: &str = "/api/v1/wallet/deposits";

/// A deposit replays by its `Idempotency-Key` (per customer), is credited only when the
/// operator completes it (once, less fees), and its key is forgotten after 24 hours.
async fn deposits_replay_by_key_and_complete_once(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let (_, sam) = customer(&s, "sam").await;
    let (_, other) = customer(&s, "other").await;
    assert_eq!(wallet(&s, &sam).await, (0, 0));
    s.wallet(&admin).await.refused(404, "NOT_FOUND"); // staff have no wallet

    // Idempotent deposit: the retry replays, another body is 422.
    let body = json!({"amount": 10_000, "description": "first"});
    let first = s
        .post_keyed(&sam, DEPOSITS, "dep-1", body.clone())
        .await
        .replay(false)
        .created();
    assert_eq!(first["status"], "pending");
    assert!(first["reference"].as_str().unwrap().starts_with("DEP-"));
    let again = s
        .post_keyed(&sam, DEPOSITS, "dep-1", body)
        .await
        .replay(true)
        .created();
    assert_eq!(again, first, "the first response, replayed");
    s.post_keyed(&sam, DEPOSITS, "dep-1", json!({"amount": 20_000}))
        .await
        .refused(422, "IDEMPOTENCY_KEY_REUSED");
    s.post_keyed(&other, DEPOSITS, "dep-1", json!({"amount": 500}))
        .await
        .replay(false) // keys are per customer
        .created();
    let dep = first["id"].as_str().unwrap().to_owned();
    assert_eq!(
        wallet(&s, &sam).await,
        (0, 0),
        "credited on completion only"
    );

    // Bad input.
    for body in [
        json!({"amount": 0}),
        json!({"amount": -5}),
        json!({"amount": "ten"}),
        json!({"amount": 100, "bogus": 1}),
        json!({"amount": 100_000_001}),
    ] {
        s.deposit_with(&sam, body)
            .await
            .refused(400, "VALIDATION_ERROR");
    }
    s.post_keyed(&sam, DEPOSITS, &"k".repeat(300), json!({"amount": 100}))
        .await
        .refused(400, "VALIDATION_ERROR");

    // The operator completes it, less fees; a repeated callback changes nothing.
    s.resolve(&sam, &dep, json!({"status": "completed"}))
        .await
        .refused(403, "INSUFFICIENT_PERMISSIONS");
    for _ in 0..2 {
        let done = json!({"status": "completed", "fees": 100, "externalReference": "psp-1"});
        let res = s.resolve(&admin, &dep, done).await.ok();
        assert_eq!(res["netAmount"], 9_900);
    }
    assert_eq!(wallet(&s, &sam).await, (9_900, 0));
    s.resolve(&admin, &dep, json!({"status": "failed"}))
        .await
        .refused(409, "INVALID_TRANSITION");
    s.resolve(&admin, &dep, json!({"status": "nope"}))
        .await
        .status(400);

    // Keys are forgotten after 24 hours; then the key is free again.
    let pruned = s
        .engine
        .wallet()
        .prune_idempotency_keys(chrono::Utc::now() + chrono::Duration::hours(25))
        .await
        .unwrap();
    assert!(pruned >= 2, "{pruned}");
    s.post_keyed(&sam, DEPOSITS, "dep-1", json!({"amount": 20_000}))
        .await
        .replay(false)
        .created();
    assert_balanced(&s, &admin).await;
}

/// Withdrawals are for verified customers only; the amount is reserved, then paid or
/// released; each customer sees their own transactions only.
async fn withdrawals_need_verification_and_reserve_the_amount(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let (sam_id, sam) = customer(&s, "sam").await;
    let (_, other) = customer(&s, "other").await;
    let dep = fund(&s, &admin, &sam, 9_900).await;
    s.deposit(&other, 500).await.created();

    s.withdraw(&sam, 1_000)
        .await
        .refused(403, "VERIFICATION_REQUIRED");
    let me = s.post_empty(&sam, "/api/v1/me/verification").await.ok();
    assert_eq!(me["verificationStatus"], "pending");
    s.withdraw(&sam, 1_000)
        .await
        .refused(403, "VERIFICATION_REQUIRED"); // pending is not verified
    verify(&s, &admin, &sam_id).await;
    s.withdraw(&sam, 20_000)
        .await
        .refused(422, "INSUFFICIENT_FUNDS");
    let w1 = s.withdraw(&sam, 5_000).await.created_id();
    assert_eq!(wallet(&s, &sam).await, (4_900, 5_000));
    s.resolve(&admin, &w1, json!({"status": "cancelled"}))
        .await
        .ok();
    assert_eq!(wallet(&s, &sam).await, (9_900, 0));
    let w2 = s.withdraw(&sam, 1_000).await.created_id();
    s.resolve(&admin, &w2, json!({"status": "completed", "fees": 50}))
        .await
        .ok();
    assert_eq!(wallet(&s, &sam).await, (8_900, 0));

    // Transactions: one's own; operators everyone's.
    let list = s
        .get_as(&sam, "/api/v1/wallet/transactions?type=withdrawal")
        .await
        .ok();
    assert_eq!(list["total"], 2);
    let list = s.get_as(&other, "/api/v1/wallet/transactions").await.ok();
    assert_eq!(list["total"], 1);
    s.transaction(&other, &dep).await.status(404);
    s.get_as(&sam, "/api/v1/wallet/transactions?status=weird")
        .await
        .status(400);
    assert_balanced(&s, &admin).await;
}

/// Payment methods never hold card numbers, and only their owner can pay with one.
async fn payment_methods_hold_no_card_numbers_and_are_ones_own(db: TestDb) {
    let s = server(db).await;
    let (_, sam) = customer(&s, "sam").await;
    let (_, other) = customer(&s, "other").await;
    let methods = "/api/v1/wallet/payment-methods";
    let card = json!({"type": "credit_card", "name": "Visa",
                      "details": {"cardNumber": "4242424242424242"}});
    s.post_as(&sam, methods, card)
        .await
        .refused(400, "VALIDATION_ERROR");
    let token = json!({"type": "credit_card", "name": "Visa",
                       "details": {"token": "tok_1", "last4": "4242"}, "isDefault": true});
    let pm = s.post_as(&sam, methods, token).await.created_id();
    let with_pm = json!({"amount": 100, "paymentMethodId": pm});
    s.deposit_with(&other, with_pm.clone()).await.status(404); // someone else's payment method
    s.deposit_with(&sam, with_pm).await.created();
}

/// Limits and breaks: bad input is refused with the field named; a deposit limit counts
/// pending deposits; a break refuses deposits; a self-exclusion is at least six months.
async fn limits_and_breaks_are_validated_and_enforced(db: TestDb) {
    let s = server(db).await;
    let (_, other) = customer(&s, "other").await;
    s.deposit(&other, 500).await.created();
    for body in [
        json!({"kind": "deposit", "period": "day", "amount": -5}),
        json!({"kind": "bonus", "period": "day", "amount": 100}),
        json!({"kind": "deposit", "period": "year", "amount": 100}),
        json!({"kind": "deposit", "period": "day", "amount": 100, "extra": 1}),
    ] {
        s.set_limit(&other, body)
            .await
            .refused(400, "VALIDATION_ERROR");
    }
    for body in [
        json!({"type": "time_out", "days": 0}),
        json!({"type": "time_out", "days": 43}),
        json!({"type": "time_out", "months": 6}),
        json!({"type": "holiday", "days": 3}),
    ] {
        s.take_break(&other, body)
            .await
            .refused(400, "VALIDATION_ERROR");
    }
    s.reconciliation(&other)
        .await
        .refused(403, "INSUFFICIENT_PERMISSIONS");

    s.set_limit(
        &other,
        json!({"kind": "deposit", "period": "day", "amount": 1_000}),
    )
    .await
    .ok();
    let err = s.deposit(&other, 600).await.refused(422, "LIMIT_EXCEEDED"); // 500 pending + 600 > 1000
    assert_eq!(err["details"]["used"], 500);
    s.take_break(&other, json!({"type": "time_out", "days": 1}))
        .await
        .ok();
    s.deposit(&other, 100).await.refused(403, "SELF_EXCLUDED");
    s.take_break(&other, json!({"type": "self_exclusion", "months": 3}))
        .await
        .status(400); // self-exclusion is at least six months
}

/// A customer with 10,000 on a book of two events.
async fn bettor(s: &TestServer) -> (String, Book, String) {
    let admin = s.admin_token().await;
    let b = book(s, &admin).await;
    let (_, sam) = customer(s, "sam").await;
    fund(s, &admin, &sam, 10_000).await;
    (admin, b, sam)
}

async fn bets_refused_for_stake_funds_odds_and_slip_rules(db: TestDb) {
    let s = server(db).await;
    let (_, b, sam) = bettor(&s).await;
    s.place(&sam, single(&b.sel[0][0], "2.0", 50))
        .await
        .refused(422, "STAKE_TOO_LOW");
    s.place(&sam, single(&b.sel[0][0], "2.0", 40_001))
        .await
        .refused(422, "STAKE_TOO_HIGH");
    s.place(&sam, single(&b.sel[0][1], "3.0", 40_000))
        .await
        .refused(422, "INSUFFICIENT_FUNDS");
    // A customer who never deposited has no accounts yet: they are opened at zero.
    let (_, newbie) = customer(&s, "newbie").await;
    s.place(&newbie, single(&b.sel[0][1], "3.0", 1_000))
        .await
        .refused(422, "INSUFFICIENT_FUNDS");
    // An unknown selection is named (404, like any reference to nothing), not mistaken for
    // missing money.
    let unknown = uuid::Uuid::now_v7().to_string();
    let err = s
        .place(&sam, single(&unknown, "2.0", 1_000))
        .await
        .refused(404, "NOT_FOUND");
    assert_eq!(err["details"][0]["field"], "legs[0].selectionId", "{err}");
    let err = s
        .place(&sam, single(&b.sel[0][0], "2.5", 1_000))
        .await
        .refused(409, "ODDS_CHANGED");
    assert_eq!(err["details"]["legs"][0]["currentOdds"], "2.00");
    assert_eq!(err["details"]["legs"][0]["requestedOdds"], "2.50");
    s.place(
        &sam,
        parlay((&b.sel[0][0], "2.0"), (&b.sel[0][1], "3.0"), 1_000),
    )
    .await
    .refused(422, "DUPLICATE_EVENT_IN_PARLAY");
    let err = s
        .place(
            &sam,
            parlay((&b.sel[0][0], "2.0"), (&b.sel[1][1], "2.5"), 1_000),
        )
        .await
        .refused(409, "ODDS_CHANGED");
    assert_eq!(err["details"]["legs"][0]["currentOdds"], "3.00", "{err}");
    s.place(
        &sam,
        parlay((&b.sel[0][1], "3.0"), (&b.sel[1][1], "3.0"), 20_000),
    )
    .await
    .refused(422, "MAX_PAYOUT_EXCEEDED");
    assert_eq!(wallet(&s, &sam).await, (10_000, 0), "nothing was taken");
}

async fn bets_refused_for_market_and_event_state_and_shape(db: TestDb) {
    let s = server(db).await;
    let (admin, b, sam) = bettor(&s).await;
    s.market_action(&admin, &b.m[1], "suspend", None).await.ok();
    s.place(&sam, single(&b.sel[1][0], "2.0", 1_000))
        .await
        .refused(422, "MARKET_SUSPENDED");
    s.market_action(&admin, &b.m[1], "reopen", None).await.ok();
    s.patch_selection(&admin, &b.sel[1][1], json!({"isActive": false}))
        .await
        .ok();
    s.place(&sam, single(&b.sel[1][1], "3.0", 1_000))
        .await
        .refused(422, "SELECTION_INACTIVE");
    let (closed, closed_sel) = fixture(&s, &admin, &b, 2, json!({})).await;
    s.patch_market(&admin, &closed, json!({"status": "closed"}))
        .await
        .ok();
    s.place(&sam, single(&closed_sel[0], "2.0", 1_000))
        .await
        .refused(422, "MARKET_CLOSED");
    let past = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let (_, started) = fixture(&s, &admin, &b, 3, json!({"startTime": past})).await;
    s.place(&sam, single(&started[0], "2.0", 1_000))
        .await
        .refused(422, "EVENT_STARTED");

    // Bad shapes are 400s.
    for body in [
        json!({"type": "system", "stake": 100, "legs": []}),
        json!({"type": "single", "stake": 100, "legs": []}),
        json!({"type": "parlay", "stake": 100, "legs": [{"selectionId": b.sel[0][0], "odds": "2.0"}]}),
        json!({"type": "single", "stake": 100, "legs": [{"selectionId": b.sel[0][0], "odds": "0.5"}]}),
        json!({"type": "single", "stake": 100, "legs": [{"selectionId": b.sel[0][0], "odds": "2.0"}], "oddsChangePolicy": "maybe"}),
    ] {
        s.place(&sam, body).await.refused(400, "VALIDATION_ERROR");
    }
    assert_eq!(wallet(&s, &sam).await, (10_000, 0), "nothing was taken");
}

async fn bets_take_higher_odds_when_asked_and_wait_out_the_in_play_delay(db: TestDb) {
    let s = server(db).await;
    let (admin, b, sam) = bettor(&s).await;
    let higher = json!({"type": "single", "stake": 1_000, "oddsChangePolicy": "higher",
                        "legs": [{"selectionId": b.sel[0][0], "odds": "1.9"}]});
    let bet = s.place(&sam, higher).await.created();
    assert_eq!(bet["totalOdds"], "2.00", "taken at the current odds");
    assert_eq!(bet["legs"][0]["odds"], "2.00", "{bet}");
    let now = chrono::Utc::now().to_rfc3339();
    let live = json!({"status": "live", "startTime": now});
    let (_, live) = fixture(&s, &admin, &b, 4, live).await;
    let started_at = Instant::now();
    s.place(&sam, single(&live[0], "2.0", 1_000))
        .await
        .created();
    assert!(
        started_at.elapsed() >= SETTINGS.in_play_delay,
        "in-play delay"
    );
    assert_eq!(wallet(&s, &sam).await, (8_000, 2_000));
    assert_balanced(&s, &admin).await;
}

async fn bets_refused_by_limits_and_self_exclusion(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let (_, kim) = customer(&s, "kim").await;
    fund(&s, &admin, &kim, 5_000).await;
    s.set_limit(
        &kim,
        json!({"kind": "stake", "period": "day", "amount": 1_500}),
    )
    .await
    .ok();
    s.place(&kim, single(&b.sel[0][0], "2.0", 1_000))
        .await
        .created();
    s.place(&kim, single(&b.sel[0][0], "2.0", 600))
        .await
        .refused(422, "LIMIT_EXCEEDED");
    s.take_break(&kim, json!({"type": "self_exclusion", "months": 6}))
        .await
        .ok();
    s.place(&kim, single(&b.sel[0][0], "2.0", 100))
        .await
        .refused(403, "SELF_EXCLUDED");
    assert_eq!(wallet(&s, &kim).await, (4_000, 1_000));
    assert_balanced(&s, &admin).await;
}

async fn bets_settle_resettle_void_and_exposure(db: TestDb) {
    let s = server(db).await;
    let (admin, b, sam) = bettor(&s).await;
    let (_, kim) = customer(&s, "kim").await;

    // An idempotent single and a parlay.
    let first = s
        .post_keyed(
            &sam,
            "/api/v1/bets",
            "bet-1",
            single(&b.sel[0][0], "2.0", 1_000),
        )
        .await
        .created();
    let again = s
        .post_keyed(
            &sam,
            "/api/v1/bets",
            "bet-1",
            single(&b.sel[0][0], "2.0", 1_000),
        )
        .await
        .replay(true)
        .created();
    assert_eq!(again["id"], first["id"]);
    let single_id = first["id"].as_str().unwrap().to_owned();
    let parlay = json!({"type": "parlay", "stake": 1_000, "legs": [
        {"selectionId": b.sel[0][0], "odds": "2.0"}, {"selectionId": b.sel[1][0], "odds": "2.0"}]});
    let p = s.place(&sam, parlay).await.created();
    assert_eq!(
        (p["totalOdds"].as_str(), p["potentialWin"].as_i64()),
        (Some("4.00"), Some(4_000))
    );
    let parlay_id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(wallet(&s, &sam).await, (8_000, 2_000), "stakes held once");

    // Exposure over open bets.
    let exposure = format!("/api/v1/markets/{}/exposure", b.m[0]);
    let x = s.get_as(&admin, &exposure).await.ok();
    assert_eq!(
        (x["total"].as_u64(), x["page"].as_u64()),
        (Some(2), Some(1)),
        "{x}"
    );
    let home = x["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["selectionId"] == b.sel[0][0].as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            home["openBets"].as_i64(),
            home["stakes"].as_i64(),
            home["potentialPayout"].as_i64()
        ),
        (Some(2), Some(2_000), Some(6_000))
    );
    assert_eq!(home["netLiability"], 4_000);
    let path = format!("/api/v1/selections/{}/exposure", b.sel[0][1]);
    s.get_as(&admin, &path).await.ok();
    s.get_as(&sam, &exposure).await.status(403);

    // Settlement: the single pays, the parlay waits for its last leg; repeats are harmless.
    let results = json!({"results": {b.sel[0][0].clone(): "win", b.sel[0][1].clone(): "loss"}});
    s.settle(&sam, &b.m[0], results.clone()).await.status(403);
    s.settle(
        &admin,
        &b.m[0],
        json!({"results": {b.sel[0][0].clone(): "win"}}),
    )
    .await
    .refused(422, "RESULTS_MISMATCH"); // every selection needs a result
    let r = s.settle(&admin, &b.m[0], results.clone()).await.ok();
    assert_eq!(
        (r["betsSettled"].as_u64(), r["netPayout"].as_i64()),
        (Some(1), Some(2_000))
    );
    assert_eq!(wallet(&s, &sam).await, (10_000, 1_000));
    let r = s.settle(&admin, &b.m[0], results).await.ok();
    assert_eq!(r["legsUpdated"].as_u64(), Some(0), "exactly once");
    let reversed = json!({"results": {b.sel[0][0].clone(): "loss", b.sel[0][1].clone(): "win"}});
    s.settle(&admin, &b.m[0], reversed.clone())
        .await
        .refused(409, "ALREADY_SETTLED");
    let bet = s.bet(&sam, &parlay_id).await.ok();
    assert_eq!(bet["status"], "accepted");

    // The parlay's other leg is void: it settles at 2.0.
    let r = s
        .market_action(
            &admin,
            &b.m[1],
            "void",
            Some(json!({"reason": "abandoned"})),
        )
        .await
        .ok();
    assert_eq!(r["marketStatus"], "voided");
    assert_eq!(wallet(&s, &sam).await, (12_000, 0));
    let bet = s.bet(&sam, &parlay_id).await.ok();
    assert_eq!(
        (bet["status"].as_str(), bet["actualWin"].as_i64()),
        (Some("settled_win"), Some(2_000))
    );

    // A wrong result corrected: both bets reversed and lost, through the ledger.
    let corrected = json!({"results": reversed["results"], "reason": "wrong result entered"});
    let no_reason = json!({"results": corrected["results"]});
    s.market_action(&admin, &b.m[0], "resettle", Some(no_reason))
        .await
        .status(400); // a reason is required
    let r = s
        .market_action(&admin, &b.m[0], "resettle", Some(corrected))
        .await
        .ok();
    assert_eq!(
        (r["betsResettled"].as_u64(), r["netPayout"].as_i64()),
        (Some(2), Some(-4_000))
    );
    assert_eq!(wallet(&s, &sam).await, (8_000, 0));
    let bet = s.bet(&sam, &single_id).await.ok();
    assert_eq!(bet["status"], "settled_loss");
    let empty = json!({"results": {}, "reason": "x"});
    s.market_action(&admin, &b.m[1], "resettle", Some(empty))
        .await
        .refused(422, "RESULTS_MISMATCH");

    // History: one's own bets with legs' names; others see nothing of them.
    let h = s
        .get_as(&sam, "/api/v1/bets?status=settled_loss")
        .await
        .ok();
    assert_eq!(h["total"], 2);
    assert_eq!(h["items"][0]["legs"][0]["selectionName"], "Home");
    let h = s.get_as(&kim, "/api/v1/bets").await.ok();
    assert_eq!(h["total"], 0);
    s.bet(&kim, &single_id).await.status(404);
    let h = s.get_as(&admin, "/api/v1/bets").await.ok();
    assert_eq!(h["total"], 2, "operators see everyone's");
    let t = s
        .get_as(&sam, "/api/v1/wallet/transactions?type=bet_debit")
        .await
        .ok();
    assert_eq!(t["total"], 2);

    // Settling with the corrected results again changes nothing.
    s.settle(&admin, &b.m[0], reversed).await.ok();
    // Bad input and unknown markets.
    let maybe = json!({"results": {b.sel[0][0].clone(): "maybe", b.sel[0][1].clone(): "win"}});
    s.settle(&admin, &b.m[0], maybe)
        .await
        .refused(400, "VALIDATION_ERROR");
    s.settle(&admin, &b.m[0], json!({"results": {"not-a-uuid": "win"}}))
        .await
        .status(400);
    let nil = uuid::Uuid::nil().to_string();
    s.settle(&admin, &nil, json!({"results": {}}))
        .await
        .status(404);
    let path = format!("/api/v1/markets/{nil}/exposure");
    s.get_as(&admin, &path).await.status(404);
    assert_balanced(&s, &admin).await;
}

/// A correction that would take back a return already withdrawn is refused whole.
async fn a_resettlement_that_would_take_back_withdrawn_money_is_refused_whole(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let (pat_id, pat) = customer(&s, "pat").await;
    fund(&s, &admin, &pat, 1_000).await;
    verify(&s, &admin, &pat_id).await;
    let (m, sel) = fixture(&s, &admin, &b, 5, json!({})).await;
    let bet = s
        .place(&pat, single(&sel[0], "2.0", 1_000))
        .await
        .created_id();
    let results = |w: &str, l: &str| json!({"results": {sel[0].clone(): w, sel[1].clone(): l}, "reason": "fix"});
    s.settle(&admin, &m, results("win", "loss")).await.ok();
    let w = s.withdraw(&pat, 2_000).await.created_id();
    s.resolve(&admin, &w, json!({"status": "completed"}))
        .await
        .ok();
    assert_eq!(wallet(&s, &pat).await, (0, 0));
    s.market_action(&admin, &m, "resettle", Some(results("loss", "win")))
        .await
        .refused(409, "INSUFFICIENT_FUNDS");
    let after = s.bet(&pat, &bet).await.ok();
    assert_eq!(after["status"], "settled_win", "nothing changed");
    assert_balanced(&s, &admin).await;
}

async fn fifty_concurrent_bets_never_overdraw(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let (_, sam) = customer(&s, "sam").await;
    fund(&s, &admin, &sam, 10_000).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let req = s
            .with_token(Method::POST, "/api/v1/bets", &sam)
            .json(&single(&b.sel[i % 2][0], "2.0", 1_000));
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            (status, v["error"]["code"].as_str().map(str::to_owned))
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, _) => accepted += 1,
            (422, Some(c)) => assert_eq!(c, "INSUFFICIENT_FUNDS"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 10, "exactly the funds' worth");
    assert_eq!(wallet(&s, &sam).await, (0, 10_000));
    assert_balanced(&s, &admin).await;
}

/// Bets of many customers at once share transactions (the engine's placement batches), yet
/// each is decided on its own customer's balance as the bets before it left it; refusals in
/// a batch write nothing and take nothing from the others.
async fn concurrent_customers_are_each_decided_on_their_own_funds(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let mut punters = Vec::new();
    for i in 0..6 {
        let (_, token) = customer(&s, &format!("punter{i}")).await;
        fund(&s, &admin, &token, 2_000 + 1_000 * i).await;
        punters.push(token);
    }
    let mut tasks = Vec::new();
    for (c, token) in punters.iter().enumerate() {
        for n in 0..12 {
            let body = match n {
                0 => single(&b.sel[0][0], "2.5", 1_000),
                1 => single(&uuid::Uuid::now_v7().to_string(), "2.0", 1_000),
                2 | 3 => parlay(
                    (&b.sel[0][n % 2], ["2.0", "3.0"][n % 2]),
                    (&b.sel[1][0], "2.0"),
                    1_000,
                ),
                _ => single(&b.sel[n % 2][1], "3.0", 1_000),
            };
            let req = s
                .with_token(Method::POST, "/api/v1/bets", token)
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let v: Value = res.json().await.unwrap();
                (c, n, status, code(&v).to_owned())
            }));
        }
    }
    let mut accepted = [0i64; 6];
    for t in tasks {
        match t.await.unwrap() {
            (c, n, 201, _) if n >= 2 => accepted[c] += 1,
            (_, 0, 409, c) if c == "ODDS_CHANGED" => {}
            (_, 1, 404, c) if c == "NOT_FOUND" => {}
            (_, n, 422, c) if n >= 2 && c == "INSUFFICIENT_FUNDS" => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    for (i, token) in punters.iter().enumerate() {
        let funds = 2_000 + 1_000 * i as i64;
        assert_eq!(
            accepted[i],
            funds / 1_000,
            "punter{i} bets exactly their funds"
        );
        assert_eq!(wallet(&s, token).await, (0, funds), "punter{i}");
        let h = s.get_as(token, "/api/v1/bets").await.ok();
        assert_eq!(h["total"], accepted[i], "punter{i}: {h}");
    }
    assert_balanced(&s, &admin).await;
    // Every one of the 72 went through this engine's placer; most were decided in a batch.
    let stats = s.engine.placement_stats();
    assert!(stats.batched > 0, "{stats:?}");
    assert!(stats.batched + stats.alone >= 72, "{stats:?}");
    // /metrics shows them. Its recorder is the process's, shared by every server a test
    // binary starts, and each `/metrics` call raises the counters to the answering engine's
    // totals, so it shows at least this engine's.
    let (batch, alone) = placements(&s).await;
    assert!(
        batch >= stats.batched && alone >= stats.alone,
        "({batch}, {alone}) in /metrics, {stats:?} here"
    );
}

/// The placer's (batch, alone) counters in `/metrics`.
async fn placements(s: &TestServer) -> (u64, u64) {
    let text = s.get("/metrics").await.text().await.unwrap();
    let count = |path: &str| -> u64 {
        let key = format!("bet_placement_bets_total{{path=\"{path}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    (count("batch"), count("alone"))
}

/// Random stakes of several customers placed all at once, so batches mix customers and
/// stakes that fit with stakes that do not. Every wallet ends exact (cash and pending add up
/// to the funds, pending is the accepted stakes), and every stake refused for want of funds
/// is more than its customer had left at the end: no batch refused a bet that would have fit.
async fn random_concurrent_stakes_leave_every_wallet_exact(db: TestDb) {
    use proptest::strategy::{Strategy, ValueTree};
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 4,
        ..Default::default()
    });
    for case in 0..4 {
        let funds = proptest::collection::vec(1_000i64..20_000, 4)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let bets = proptest::collection::vec((0usize..4, 100i64..5_000, 0usize..4), 24..40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let ctx = format!("case {case}: funds {funds:?}, bets {bets:?}");
        let mut tokens = Vec::new();
        for (c, amount) in funds.iter().enumerate() {
            let (_, token) = customer(&s, &format!("r{case}c{c}")).await;
            fund(&s, &admin, &token, *amount).await;
            tokens.push(token);
        }
        let mut tasks = Vec::new();
        for &(c, stake, sel) in &bets {
            let body = single(&b.sel[sel / 2][sel % 2], ["2.0", "3.0"][sel % 2], stake);
            let req = s
                .with_token(Method::POST, "/api/v1/bets", &tokens[c])
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let v: Value = res.json().await.unwrap();
                (c, stake, status, code(&v).to_owned())
            }));
        }
        let mut accepted = [0i64; 4];
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (c, stake, 201, _) => accepted[c] += stake,
                (c, stake, 422, code) if code == "INSUFFICIENT_FUNDS" => refused.push((c, stake)),
                other => panic!("{ctx}: unexpected {other:?}"),
            }
        }
        for (c, token) in tokens.iter().enumerate() {
            let (cash, pending) = wallet(&s, token).await;
            assert_eq!(
                (cash, pending),
                (funds[c] - accepted[c], accepted[c]),
                "{ctx}: customer {c}"
            );
            for &(_, stake) in refused.iter().filter(|r| r.0 == c) {
                assert!(
                    stake > cash,
                    "{ctx}: customer {c} refused {stake} with {cash} left"
                );
            }
        }
        assert_balanced(&s, &admin).await;
    }
}

/// One step of a random money history.
#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, i64),
    /// Withdraw, then complete (`true`) or cancel it.
    Withdraw(usize, i64, bool),
    Single(usize, usize, usize, i64),
    Parlay(usize, usize, usize, i64),
    Settle(usize, [u8; 2]),
    Void(usize),
    Resettle(usize, [u8; 2]),
}

const RESULTS: [&str; 4] = ["win", "loss", "push", "void"];
const ODDS: [i64; 2] = [20, 30]; // tenths: every fixture's selections are 2.0 and 3.0
const CUSTOMERS: usize = 3;
const MARKETS: usize = 4;

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let c = 0..CUSTOMERS;
    let m = 0..MARKETS;
    let r = [0u8..4, 0u8..4];
    prop_oneof![
        1 => (c.clone(), 100i64..20_000).prop_map(|(c, a)| Op::Deposit(c, a)),
        1 => (c.clone(), 100i64..8_000, any::<bool>()).prop_map(|(c, a, k)| Op::Withdraw(c, a, k)),
        3 => (c.clone(), m.clone(), 0usize..2, 100i64..5_000).prop_map(|(c, m, s, a)| Op::Single(c, m, s, a)),
        2 => (c, m.clone(), 0usize..4, 100i64..3_000).prop_map(|(c, m, s, a)| Op::Parlay(c, m, s, a)),
        1 => (m.clone(), r.clone()).prop_map(|(m, r)| Op::Settle(m, r)),
        1 => m.clone().prop_map(Op::Void),
        1 => (m, r).prop_map(|(m, r)| Op::Resettle(m, r)),
    ]
}

/// (customer, bet id, stake, legs (market, selection), payout once settled)
type ModelBet = (usize, String, i64, Vec<(usize, usize)>, Option<i64>);

/// What the test expects, computed by its own reading of the rules.
#[derive(Debug, Default)]
struct Model {
    cash: [i64; CUSTOMERS],
    pending: [i64; CUSTOMERS],
    /// Per market: its results once settled (indexed by selection), and whether voided.
    results: [Option<[u8; 2]>; MARKETS],
    /// (customer, bet id, stake, legs (market, selection), payout once settled)
    bets: Vec<ModelBet>,
}

impl Model {
    /// A settled bet's return from its legs' results, or None while a leg is open.
    fn payout(&self, stake: i64, legs: &[(usize, usize)]) -> Option<i64> {
        let mut tenths = Vec::new();
        let (mut lost, mut won, mut pushed) = (false, false, false);
        for &(m, s) in legs {
            match RESULTS[usize::from(self.results[m]?[s])] {
                "win" => {
                    won = true;
                    tenths.push(ODDS[s]);
                }
                "loss" => lost = true,
                "push" => pushed = true,
                _ => {}
            }
        }
        Some(if lost {
            0
        } else if won {
            // stake × Π(odds), rounded down; odds are whole tenths.
            let num: i128 = tenths.iter().map(|t| i128::from(*t)).product();
            let den: i128 = 10i128.pow(u32::try_from(tenths.len()).unwrap());
            i64::try_from(i128::from(stake) * num / den).unwrap()
        } else {
            let _ = pushed;
            stake
        })
    }

    /// Applies new results to a market, settling or re-settling its bets in the server's
    /// order (customer, then bet id). `None` when a reversal cannot be covered (the server
    /// refuses the whole correction).
    fn apply(&mut self, market: usize, results: [u8; 2], ids: &[String; CUSTOMERS]) -> Option<()> {
        let before = self.results[market];
        self.results[market] = Some(results);
        let mut cash = self.cash;
        let mut pending = self.pending;
        let mut order: Vec<usize> = (0..self.bets.len())
            .filter(|&i| self.bets[i].3.iter().any(|l| l.0 == market))
            .collect();
        order.sort_by(|&a, &b| {
            (&ids[self.bets[a].0], &self.bets[a].1).cmp(&(&ids[self.bets[b].0], &self.bets[b].1))
        });
        let mut payouts = Vec::new();
        for i in order {
            let (c, _, stake, legs, old) = self.bets[i].clone();
            let changed =
                before.is_none_or(|b| legs.iter().any(|l| l.0 == market && b[l.1] != results[l.1]));
            if !changed {
                continue;
            }
            if let Some(old) = old {
                if cash[c] < old {
                    self.results[market] = before;
                    return None;
                }
                cash[c] -= old;
                pending[c] += stake;
            }
            let new = self.payout(stake, &legs);
            if let Some(p) = new {
                pending[c] -= stake;
                cash[c] += p;
            }
            payouts.push((i, new));
        }
        self.cash = cash;
        self.pending = pending;
        for (i, p) in payouts {
            self.bets[i].4 = p;
        }
        Some(())
    }
}

/// Property: random sequences of deposits, withdrawals, singles, parlays, settlements, voids
/// and resettlements leave each customer's balances where an independent model of the rules
/// puts them, never negative, each bet paid by the rules at most once, and the ledger
/// balanced. (Sequences are drawn with proptest's runner, without shrinking: each case runs
/// against a real database.)
async fn random_money_histories_keep_every_invariant(db: TestDb) {
    use proptest::strategy::{Strategy, ValueTree};
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 6,
        ..Default::default()
    });
    for case in 0..6 {
        // Fresh customers and markets per case.
        let mut ids: [String; CUSTOMERS] = Default::default();
        let mut tokens: Vec<String> = Vec::new();
        for (c, id) in ids.iter_mut().enumerate() {
            let (i, t) = customer(&s, &format!("p{case}c{c}")).await;
            verify(&s, &admin, &i).await;
            *id = i;
            tokens.push(t);
        }
        let mut markets = Vec::new();
        for i in 0..MARKETS {
            markets.push(fixture(&s, &admin, &b, i, json!({})).await);
        }
        let ops = proptest::collection::vec(op(), 10..40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut model = Model::default();
        for (n, op) in ops.iter().enumerate() {
            let ctx = format!("case {case} op {n} {op:?} of {ops:?}");
            match op.clone() {
                Op::Deposit(c, amount) => {
                    fund(&s, &admin, &tokens[c], amount).await;
                    model.cash[c] += amount;
                }
                Op::Withdraw(c, amount, complete) => {
                    let res = s.withdraw(&tokens[c], amount).await;
                    if model.cash[c] < amount {
                        assert_eq!(
                            (res.status, res.code()),
                            (422, "INSUFFICIENT_FUNDS"),
                            "{ctx}"
                        );
                        continue;
                    }
                    assert_eq!(res.status, 201, "{ctx}: {}", res.body);
                    let id = res.body["data"]["id"].as_str().unwrap();
                    let to = if complete { "completed" } else { "cancelled" };
                    let res = s.resolve(&admin, id, json!({"status": to})).await;
                    assert_eq!(res.status, 200, "{ctx}: {}", res.body);
                    if complete {
                        model.cash[c] -= amount;
                    }
                }
                Op::Single(c, m, sel, stake) | Op::Parlay(c, m, sel, stake) => {
                    let legs: Vec<(usize, usize)> = if matches!(op, Op::Single(..)) {
                        vec![(m, sel)]
                    } else {
                        vec![(m, sel % 2), ((m + 1) % MARKETS, sel / 2)]
                    };
                    let body = json!({"type": if legs.len() == 1 { "single" } else { "parlay" },
                        "stake": stake, "legs": legs.iter().map(|(m, s)| json!({
                            "selectionId": markets[*m].1[*s], "odds": format!("{}.0", ODDS[*s] / 10)}))
                            .collect::<Vec<_>>()});
                    let (status, res) = s.place(&tokens[c], body).await.into_parts();
                    if legs.iter().any(|l| model.results[l.0].is_some()) {
                        assert_eq!((status, code(&res)), (422, "MARKET_CLOSED"), "{ctx}");
                    } else if model.cash[c] < stake {
                        assert_eq!((status, code(&res)), (422, "INSUFFICIENT_FUNDS"), "{ctx}");
                    } else {
                        assert_eq!(status, 201, "{ctx}: {res}");
                        model.cash[c] -= stake;
                        model.pending[c] += stake;
                        model.bets.push((
                            c,
                            res["data"]["id"].as_str().unwrap().to_owned(),
                            stake,
                            legs,
                            None,
                        ));
                    }
                }
                Op::Settle(m, r) | Op::Resettle(m, r) => {
                    let resettle = matches!(op, Op::Resettle(..));
                    let path = format!(
                        "/api/v1/markets/{}/{}",
                        markets[m].0,
                        if resettle { "resettle" } else { "settle" }
                    );
                    let body = json!({"results": {markets[m].1[0].clone(): RESULTS[usize::from(r[0])],
                        markets[m].1[1].clone(): RESULTS[usize::from(r[1])]}, "reason": "property test"});
                    let (status, res) = s.post_as(&admin, &path, body).await.into_parts();
                    match (resettle, model.results[m]) {
                        (false, Some(prev)) if prev != r => {
                            assert_eq!((status, code(&res)), (409, "ALREADY_SETTLED"), "{ctx}");
                        }
                        (false, Some(_)) => assert_eq!(status, 200, "{ctx}: {res}"),
                        (true, None) => {
                            assert_eq!((status, code(&res)), (409, "INVALID_TRANSITION"), "{ctx}")
                        }
                        _ => match model.apply(m, r, &ids) {
                            Some(()) => assert_eq!(status, 200, "{ctx}: {res}"),
                            None => assert_eq!(
                                (status, code(&res)),
                                (409, "INSUFFICIENT_FUNDS"),
                                "{ctx}: {res}"
                            ),
                        },
                    }
                }
                Op::Void(m) => {
                    let (status, res) = s
                        .market_action(&admin, &markets[m].0, "void", Some(json!({})))
                        .await
                        .into_parts();
                    match model.apply(m, [3, 3], &ids) {
                        Some(()) => assert_eq!(status, 200, "{ctx}: {res}"),
                        None => assert_eq!(
                            (status, code(&res)),
                            (409, "INSUFFICIENT_FUNDS"),
                            "{ctx}: {res}"
                        ),
                    }
                }
            }
            for (c, token) in tokens.iter().enumerate() {
                let got = wallet(&s, token).await;
                assert_eq!(
                    got,
                    (model.cash[c], model.pending[c]),
                    "customer {c} after {ctx}"
                );
                assert!(got.0 >= 0 && got.1 >= 0);
            }
        }
        for (c, id, _, _, payout) in &model.bets {
            let bet = s.bet(&tokens[*c], id).await.ok();
            match payout {
                Some(p) => assert_eq!(bet["actualWin"].as_i64(), Some(*p), "{bet}"),
                None => assert_eq!(bet["status"], "accepted", "{bet}"),
            }
        }
        assert_balanced(&s, &admin).await;
    }
}

/// Raising a limit waits 24 hours and lowering is immediate; a self-exclusion cannot be
/// shortened; all against a clock the test moves.
async fn cooling_off_and_breaks_follow_an_injected_clock(db: TestDb) {
    use betflow_domain::audit::Actor;
    use betflow_domain::sportsbook::limits::{Exclusion, LimitKind, Period};
    let s = server(db).await;
    let (id, _) = customer(&s, "sam").await;
    let user: betflow_domain::ids::UserId = id.parse::<uuid::Uuid>().unwrap().into();
    let actor = Actor::default();
    let t0 = chrono::Utc::now();
    let e = s.engine.wallet();
    e.set_limit(user, LimitKind::Stake, Period::Day, Some(1_000), t0, &actor)
        .await
        .unwrap();
    e.set_limit(user, LimitKind::Stake, Period::Day, Some(5_000), t0, &actor)
        .await
        .unwrap();
    let in_force =
        |rg: betflow_domain::sportsbook::limits::ResponsibleGambling, at| rg.limits[0].in_force(at);
    let h = chrono::Duration::hours;
    let rg = e.responsible_gambling(user, t0 + h(23)).await.unwrap();
    assert_eq!(
        in_force(rg, t0 + h(23)),
        Some(1_000),
        "raised: still cooling off"
    );
    let rg = e.responsible_gambling(user, t0 + h(25)).await.unwrap();
    assert_eq!(in_force(rg, t0 + h(25)), Some(5_000), "after 24 hours");
    e.set_limit(
        user,
        LimitKind::Stake,
        Period::Day,
        Some(200),
        t0 + h(26),
        &actor,
    )
    .await
    .unwrap();
    let rg = e.responsible_gambling(user, t0 + h(26)).await.unwrap();
    assert_eq!(in_force(rg, t0 + h(26)), Some(200), "lowered at once");

    let six = Exclusion::self_exclusion(6, t0).unwrap();
    e.take_break(user, six, t0, &actor).await.unwrap();
    let shorter = Exclusion::time_out(1, t0 + h(48)).unwrap();
    assert!(
        e.take_break(user, shorter, t0 + h(48), &actor)
            .await
            .is_err()
    );
    let rg = e
        .responsible_gambling(user, t0 + chrono::Duration::days(150))
        .await
        .unwrap();
    assert!(
        rg.active_exclusion(t0 + chrono::Duration::days(150))
            .is_some()
    );
    assert!(
        rg.active_exclusion(t0 + chrono::Duration::days(200))
            .is_none()
    );
}

/// A small odds change applies at once; one above the threshold opens a
/// `line_change_approval` workflow and applies when it completes.
async fn line_change_above_threshold_goes_through_approval(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let (_, trader) = s.user_token(&admin, "trader1", "trader").await;
    let sel = format!("/api/v1/selections/{}", b.sel[0][0]);
    let res = s
        .patch_selection(&trader, &b.sel[0][0], json!({"odds": "2.1"}))
        .await
        .ok(); // 5% applies at once
    assert_eq!(res["odds"], "2.10");

    let res = s
        .patch_selection(
            &trader,
            &b.sel[0][0],
            json!({"odds": "3.0", "reason": "team news"}),
        )
        .await
        .status(202);
    assert_eq!(res["data"]["odds"], "2.10", "not yet");
    let wf = res["data"]["pendingApproval"]["workflowId"]
        .as_str()
        .unwrap()
        .to_owned();
    let w = s.workflow(&admin, &wf).await.ok();
    let data = &w["data"];
    assert_eq!(data["lineId"], b.sel[0][0].as_str());
    assert_eq!(data["eventName"], "Arsenal v Chelsea");
    assert_eq!(data["marketType"], "moneyline");
    assert_eq!(
        (data["oldOdds"].as_str(), data["newOdds"].as_str()),
        (Some("2.10"), Some("3.00"))
    );
    assert_eq!(
        data["financialImpact"], 0,
        "net liability in minor units, none without bets: {data}"
    );

    let _worker = s.worker();
    for (name, role) in [
        ("tmgr", "trading_manager"),
        ("strader", "senior_trader"),
        ("rmgr", "risk_manager"),
    ] {
        let (_, token) = s.user_token(&admin, name, role).await;
        s.act(&token, &wf, "approve", Some(json!({"comments": "ok"})))
            .await
            .ok();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = s.get_as(&trader, &sel).await.ok();
        if res["odds"] == "3.00" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the approved odds were not applied: {res}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prices = s.get_as(&trader, &format!("{sel}/prices")).await.ok();
    let last = prices["items"].as_array().unwrap().last().unwrap().clone();
    assert!(last["reason"].as_str().unwrap().contains(&wf), "{last}");
}

/// A signed provider callback completes a deposit; forged, stale or unsigned ones are
/// refused, and a server without a secret has no such endpoint.
async fn provider_callbacks_are_verified(db: TestDb) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let s = spawn_custom(db, test_config(), None, identity_config(), |c| {
        betflow_engine::EngineConfig {
            payments_secret: Some(SECRET.into()),
            ..c
        }
    })
    .await;
    let (_, sam) = customer(&s, "sam").await;
    let dep = s.deposit(&sam, 2_500).await.created();
    let reference = dep["reference"].as_str().unwrap().to_owned();
    let send = |body: String, ts: i64, sig: Option<String>| {
        let mut req = s
            .client
            .post(s.url("/api/v1/wallet/provider-callback"))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", ts.to_string());
        let sig = sig
            .unwrap_or_else(|| betflow_domain::webhooks::sign(SECRET, "msg_1", ts, &body).unwrap());
        req = req.header("webhook-signature", sig);
        async move {
            let res = req.body(body).send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let now = chrono::Utc::now().timestamp();
    let body = json!({"reference": reference, "status": "completed", "externalReference": "psp-9", "fees": 25}).to_string();
    let (status, res) = send(body.clone(), now, Some("v1,Zm9yZ2Vk".into())).await;
    assert_eq!((status, code(&res)), (401, "INVALID_SIGNATURE"));
    let (status, res) = send(body.clone(), now - 3_600, None).await;
    assert_eq!(
        (status, code(&res)),
        (401, "INVALID_SIGNATURE"),
        "stale timestamp"
    );
    assert_eq!(wallet(&s, &sam).await, (0, 0));
    for _ in 0..2 {
        let (status, res) = send(body.clone(), now, None).await;
        assert_eq!(status, 200, "{res}");
        assert_eq!(res["data"]["status"], "completed");
    }
    assert_eq!(
        wallet(&s, &sam).await,
        (2_475, 0),
        "credited once, less fees"
    );
    let (status, res) = send(
        json!({"reference": reference, "status": "weird"}).to_string(),
        now,
        None,
    )
    .await;
    assert_eq!((status, code(&res)), (400, "VALIDATION_ERROR"));
    let (status, _) = send("not json".into(), now, None).await;
    assert_eq!(status, 400);

    // The signature headers are required (400 naming each missing one), whether or not the
    // server takes callbacks.
    let res = s
        .client
        .post(s.url("/api/v1/wallet/provider-callback"))
        .header("webhook-id", "msg_1")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res: Value = res.json().await.unwrap();
    assert_eq!(
        res["error"]["details"][1]["field"], "webhook-signature",
        "{res}"
    );

    let plain = server(TestDb::sqlite().await).await;
    let unsigned = plain
        .client
        .post(plain.url("/api/v1/wallet/provider-callback"))
        .body("{}");
    let res = unsigned.send().await.unwrap();
    assert_eq!(res.status(), 400, "headers first");
    let res = plain
        .client
        .post(plain.url("/api/v1/wallet/provider-callback"))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", "v1,Zm9yZ2Vk")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "a server without a secret takes no callbacks"
    );
}

/// The audit trail of one customer's money: the deposit created and completed, the bet
/// placed (the stake held) and settled (the win paid), the withdrawal reserved, each with
/// the values before and after.
async fn every_money_movement_is_audited(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let (sam_id, sam) = customer(&s, "sam").await;
    let audit = |table: &str, id: &str| {
        let path = format!("/api/v1/audit-logs?tableName={table}&recordId={id}");
        let (s, admin) = (&s, &admin);
        async move {
            let r = s.get_as(admin, &path).await.ok();
            let mut items = r["items"].as_array().unwrap().clone();
            items.reverse(); // oldest first
            items
        }
    };

    let deposit = fund(&s, &admin, &sam, 5_000).await;
    let rows = audit("transactions", &deposit).await;
    let actions: Vec<&str> = rows.iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions, ["INSERT", "UPDATE"], "{rows:?}");
    assert!(rows[0]["oldValues"].is_null());
    assert_eq!(rows[0]["newValues"]["status"], "pending", "{}", rows[0]);
    let (before, after) = (&rows[1]["oldValues"], &rows[1]["newValues"]);
    assert_eq!(before["transaction"]["status"], "pending", "{}", rows[1]);
    assert_eq!(after["transaction"]["status"], "completed", "{}", rows[1]);
    assert_eq!(before["balances"]["balance"], 0, "{}", rows[1]);
    assert_eq!(after["balances"]["balance"], 5_000, "{}", rows[1]);

    let bet_id = s
        .place(&sam, single(&b.sel[0][0], "2.0", 1_000))
        .await
        .created_id();
    let results = json!({"results": {b.sel[0][0].clone(): "win", b.sel[0][1].clone(): "loss"}});
    s.settle(&admin, &b.m[0], results).await.ok();
    let rows = audit("bets", &bet_id).await;
    let actions: Vec<&str> = rows.iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions, ["INSERT", "UPDATE"], "{rows:?}");
    assert_eq!(rows[0]["oldValues"]["balance"], 5_000, "{}", rows[0]);
    assert_eq!(rows[0]["newValues"]["balance"], 4_000, "{}", rows[0]);
    assert_eq!(rows[0]["newValues"]["pendingBalance"], 1_000, "{}", rows[0]);
    assert_eq!(rows[1]["oldValues"]["status"], "accepted", "{}", rows[1]);
    assert_eq!(
        rows[1]["newValues"]["bet"]["status"], "settled_win",
        "{}",
        rows[1]
    );
    assert_eq!(
        rows[1]["newValues"]["bet"]["actualWin"], 2_000,
        "{}",
        rows[1]
    );
    let market = audit("markets", &b.m[0]).await;
    assert!(
        market
            .iter()
            .any(|a| a["newValues"]["market"]["status"] == "settled"),
        "{market:?}"
    );

    // A withdrawal's reservation, once the customer is verified.
    verify(&s, &admin, &sam_id).await;
    let withdrawal = s.withdraw(&sam, 2_000).await.created_id();
    let rows = audit("transactions", &withdrawal).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "INSERT");
    let (before, after) = (&rows[0]["oldValues"], &rows[0]["newValues"]);
    assert_eq!(after["transaction"]["type"], "withdrawal", "{}", rows[0]);
    assert_eq!(
        (
            before["balance"].as_i64(),
            before["pendingBalance"].as_i64()
        ),
        (Some(6_000), Some(0))
    );
    assert_eq!(
        (
            after["balances"]["balance"].as_i64(),
            after["balances"]["pendingBalance"].as_i64()
        ),
        (Some(4_000), Some(2_000)),
        "the amount is reserved"
    );
    assert_balanced(&s, &admin).await;
}

/// Payment methods, transactions, bets and exposure are pages like every list; money-moving
/// creates answer with a `Location`; a provider reference longer than its column is a 400
/// on both backends (PostgreSQL used to fail the statement: a 500).
async fn wallet_lists_are_pages_and_creates_say_where(db: TestDb) {
    let s = server(db).await;
    let admin = s.admin_token().await;
    let (_, sam) = customer(&s, "sam").await;
    for name in ["Visa 4242", "Visa 1881", "Bank"] {
        let method = json!({"type": "debit_card", "name": name, "details": {"last4": "4242"}});
        s.post_as(&sam, "/api/v1/wallet/payment-methods", method)
            .await
            .created();
    }
    let methods = s
        .get_as(&sam, "/api/v1/wallet/payment-methods?limit=2&page=2")
        .await
        .ok();
    assert_eq!(
        (&methods["total"], &methods["totalPages"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(methods["items"][0]["name"], "Bank", "oldest first");

    let res = s
        .with_token(Method::POST, "/api/v1/wallet/deposits", &sam)
        .json(&json!({"amount": 5_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let dep: Value = res.json().await.unwrap();
    let dep = dep["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/wallet/transactions/{dep}"));
    let t = s.get_as(&sam, &location).await.ok();
    assert_eq!(t["amount"].as_i64(), Some(5_000));

    let too_long = json!({"status": "completed", "externalReference": "r".repeat(101)});
    let err = s
        .resolve(&admin, &dep, too_long)
        .await
        .refused(400, "VALIDATION_ERROR");
    assert_eq!(
        err["details"][0]["field"].as_str(),
        Some("externalReference"),
        "{err}"
    );
    let longest = json!({"status": "completed", "externalReference": "r".repeat(100),
                         "fees": 100.0});
    let done = s.resolve(&admin, &dep, longest).await.ok();
    assert_eq!(done["status"].as_str(), Some("completed"), "{done}");
    assert_eq!(done["fees"], 100, "a whole float is an integer: {done}");
    let second = s.deposit(&sam, 500).await.created_id();
    s.resolve(&admin, &second, json!({"status": "completed", "fees": 501}))
        .await
        .refused(422, "FEES_EXCEED_AMOUNT"); // within the schema, above this amount

    let b = book(&s, &admin).await;
    let res = s
        .with_token(Method::POST, "/api/v1/bets", &sam)
        .json(&single(&b.sel[0][0], "2.0", 1_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let bet: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/bets/{}", bet["data"]["id"].as_str().unwrap())
    );
    assert_eq!(bet["data"]["totalOdds"], "2.00", "canonical odds");

    // A break can be lengthened, not shortened: the shorter one conflicts with the one in
    // force (409), it is not a malformed request.
    s.take_break(&sam, json!({"type": "time_out", "days": 7.0}))
        .await
        .ok();
    s.take_break(&sam, json!({"type": "time_out", "days": 2}))
        .await
        .refused(409, "BREAK_IN_FORCE");
    // The same selection twice is the one slip rule the schema cannot state: 422.
    s.place(
        &sam,
        parlay((&b.sel[1][0], "2.0"), (&b.sel[1][0], "2.0"), 100),
    )
    .await
    .refused(422, "DUPLICATE_SELECTION");
    // Unknown references are 404s naming the member.
    let unknown = json!({"amount": 100, "paymentMethodId": uuid::Uuid::now_v7()});
    let res = s.deposit_with(&sam, unknown).await.status(404);
    assert_eq!(
        res["error"]["details"][0]["field"].as_str(),
        Some("paymentMethodId"),
        "{res}"
    );
    // Card data never reaches us, whatever its letter case.
    for key in [
        "CardNumber",
        "card_NUMBER",
        "Number",
        "PAN",
        "cvV",
        "Cvc",
        "securityCode",
        "SECURITY_code",
    ] {
        let method = json!({"type": "credit_card", "name": "Visa", "details": {key: "x"}});
        s.post_as(&sam, "/api/v1/wallet/payment-methods", method)
            .await
            .status(400);
    }
    for path in [
        "/api/v1/bets?limit=1",
        "/api/v1/wallet/transactions?limit=1",
    ] {
        let page = s.get_as(&sam, path).await.ok();
        assert_eq!(page["limit"], 1, "{path}: {page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{path}");
    }
    let path = format!("/api/v1/markets/{}/exposure?limit=1&page=2", b.m[0]);
    let x = s.get_as(&admin, &path).await.ok();
    assert_eq!(
        (&x["total"], x["items"].as_array().map(Vec::len)),
        (&json!(2), Some(1)),
        "{x}"
    );
}
