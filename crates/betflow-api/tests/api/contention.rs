//! One customer's money moved from every side at once, over HTTP: forty clients placing
//! singles and parlays over six markets while three of those markets settle, pending
//! deposits complete and withdrawals reserve. Nothing may fail on our side (no 5xx), every
//! bet must be settled exactly by the rules, the wallet must end exact and the ledger
//! balanced.
//!
//! On PostgreSQL the test runs in a database of its own and reads
//! `pg_stat_database.deadlocks` before and after: the race must not have made PostgreSQL
//! break a single deadlock (a broken one costs its victim a second of `deadlock_timeout`
//! and a retry, or a 503). The store's lock order (see `betflow_store`'s "Lock order") is
//! what this proves. On SQLite, whose one writer serialises transactions, the same race
//! checks correctness.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{TestServer, call, identity_config, spawn_custom, test_config};
use betflow_domain::sportsbook::bets::BetSettings;
use betflow_store::testing::{DATABASE_URL_VAR, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_customer_racing_settlements_and_deposits_never_deadlocks() {
        super::one_customer_racing_settlements_and_deposits_never_deadlocks(
            betflow_store::testing::TestDb::sqlite().await,
        )
        .await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_customer_racing_settlements_and_deposits_never_deadlocks() {
        // A database of its own: the deadlock counter is per database, and the other tests
        // share theirs.
        match betflow_store::testing::TestDb::postgres_database().await {
            Some(db) => {
                super::one_customer_racing_settlements_and_deposits_never_deadlocks(db).await
            }
            None => eprintln!(
                "{} unset: PostgreSQL half of one_customer_racing_settlements_and_deposits_never_deadlocks not run",
                super::DATABASE_URL_VAR
            ),
        }
    }
}

const SETTINGS: BetSettings = BetSettings {
    min_stake: 100,
    max_stake: 40_000,
    max_payout: 150_000,
    in_play_delay: Duration::from_millis(300),
};

const MARKETS: usize = 6;
/// Markets 0..SETTLED settle during the race.
const SETTLED: usize = 3;
const CLIENTS: usize = 40;
const BETS_PER_CLIENT: usize = 4;
const FUNDS: i64 = 100_000;
const DEPOSITS: usize = 6;
const DEPOSIT: i64 = 2_000;
const WITHDRAWALS: usize = 4;
const WITHDRAWAL: i64 = 500;
/// Each market's selections: home at 2.0, away at 3.0 (odds in tenths).
const ODDS: [(&str, i64); 2] = [("2.0", 20), ("3.0", 30)];
/// The results the settled markets get, by market and selection.
const RESULTS: [[&str; 2]; SETTLED] = [["win", "loss"], ["loss", "win"], ["push", "loss"]];

async fn made(s: &TestServer, token: &str, path: &str, body: Value) -> String {
    let (status, res) = call(s, Method::POST, path, token, Some(body)).await;
    assert_eq!(status, 201, "{path}: {res}");
    res["data"]["id"].as_str().unwrap().to_owned()
}

/// Six events, each with a moneyline market of two selections; (market, [home, away]).
async fn markets(s: &TestServer, admin: &str) -> Vec<(String, [String; 2])> {
    let sport = made(
        s,
        admin,
        "/api/v1/sports",
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await;
    let mut teams = vec![];
    for name in ["Arsenal", "Chelsea"] {
        teams.push(
            made(
                s,
                admin,
                "/api/v1/teams",
                json!({"sportId": sport, "name": name, "displayName": name,
                       "slug": name.to_lowercase()}),
            )
            .await,
        );
    }
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let mut out = Vec::new();
    for i in 0..MARKETS {
        let event = made(
            s,
            admin,
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[i % 2],
                   "awayTeamId": teams[(i + 1) % 2], "startTime": start}),
        )
        .await;
        let market = made(
            s,
            admin,
            "/api/v1/markets",
            json!({"eventId": event, "type": "moneyline", "name": "Match result"}),
        )
        .await;
        let mut sel = Vec::new();
        for (name, (odds, _)) in ["Home", "Away"].iter().zip(ODDS) {
            sel.push(
                made(
                    s,
                    admin,
                    "/api/v1/selections",
                    json!({"marketId": market, "name": name, "odds": odds}),
                )
                .await,
            );
        }
        out.push((market, [sel[0].clone(), sel[1].clone()]));
    }
    out
}

/// Registers a verified customer (GBP) and returns (user id, token).
async fn customer(s: &TestServer, admin: &str) -> (String, String) {
    let res = s
        .client
        .post(s.url("/api/v1/auth/register"))
        .json(&json!({"username": "sam", "email": "sam@example.com",
            "password": "a-long-password", "dateOfBirth": "1990-01-01", "countryCode": "GB",
            "currencyCode": "GBP", "timezone": "Europe/London"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    let id = v["data"]["user"]["id"].as_str().unwrap().to_owned();
    let token = s.login("sam", "a-long-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, r) = call(
        s,
        Method::PUT,
        &format!("/api/v1/users/{id}/verification"),
        admin,
        Some(json!({"status": "verified"})),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    (id, token)
}

/// The `n`th bet of client `c`: singles, two- and three-leg parlays spread over every
/// market, as (legs (market, selection), stake).
fn slip(c: usize, n: usize) -> (Vec<(usize, usize)>, i64) {
    let k = c * BETS_PER_CLIENT + n;
    let first = k % MARKETS;
    let sel = |i: usize| (k / MARKETS + i) % 2;
    let legs = match k % 4 {
        0 | 2 => vec![(first, sel(0))],
        1 => vec![(first, sel(0)), ((first + 1 + k % 5) % MARKETS, sel(1))],
        _ => vec![
            (first, sel(0)),
            ((first + 2) % MARKETS, sel(1)),
            ((first + 4) % MARKETS, sel(0)),
        ],
    };
    let legs = {
        let mut seen = HashSet::new();
        legs.into_iter().filter(|l| seen.insert(l.0)).collect()
    };
    (legs, 100 + ((c * 37 + n * 53) % 9) as i64 * 100)
}

/// How a bet ends once every leg is settled, by the rules (a loss loses, a win pays the
/// product of the winning legs' odds, pushes return the stake): its status and return, or
/// `None` while a leg's market is open.
fn expected(legs: &[(usize, usize)], stake: i64) -> Option<(&'static str, i64)> {
    let (mut lost, mut won) = (false, false);
    let (mut num, mut den) = (1i64, 1i64);
    for &(m, s) in legs {
        match RESULTS.get(m)?[s] {
            "win" => {
                won = true;
                num *= ODDS[s].1;
                den *= 10;
            }
            "loss" => lost = true,
            _ => {}
        }
    }
    Some(if lost {
        ("settled_loss", 0)
    } else if won {
        ("settled_win", stake * num / den)
    } else {
        ("settled_push", stake)
    })
}

/// What one racing request was and how it ended.
#[derive(Debug)]
enum Done {
    Bet {
        legs: Vec<(usize, usize)>,
        stake: i64,
        status: u16,
        body: Value,
    },
    Settle(u16, Value),
    Deposit(u16, Value),
    Withdrawal(u16, Value),
}

async fn one_customer_racing_settlements_and_deposits_never_deadlocks(db: TestDb) {
    let deadlocks_before = db.deadlocks(false).await;
    let s = Arc::new(
        spawn_custom(db, test_config(), None, identity_config(), |c| {
            betflow_engine::EngineConfig {
                bets: SETTINGS,
                ..c
            }
        })
        .await,
    );
    let admin = s.admin_token().await;
    let book = markets(&s, &admin).await;
    let (_, sam) = customer(&s, &admin).await;
    // Funded, and deposits left pending for the race to complete.
    let mut pending = Vec::new();
    for amount in std::iter::once(FUNDS).chain([DEPOSIT; DEPOSITS]) {
        pending.push(
            made(
                &s,
                &sam,
                "/api/v1/wallet/deposits",
                json!({"amount": amount}),
            )
            .await,
        );
    }
    let funding = pending.remove(0);
    let (status, r) = call(
        &s,
        Method::POST,
        &format!("/api/v1/wallet/transactions/{funding}/resolve"),
        &admin,
        Some(json!({"status": "completed"})),
    )
    .await;
    assert_eq!(status, 200, "{r}");

    // The clients bet at once; settlements, deposit completions and withdrawals each start
    // when a given share of the bets has been answered, so on any machine they land among
    // bets in flight on their markets and the customer's accounts.
    const TOTAL: usize = CLIENTS * BETS_PER_CLIENT;
    let answered = Arc::new(AtomicUsize::new(0));
    let when = |n: usize| {
        let answered = answered.clone();
        async move {
            while answered.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (s, sam, answered) = (s.clone(), sam.clone(), answered.clone());
        let book = book.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for n in 0..BETS_PER_CLIENT {
                let (legs, stake) = slip(c, n);
                let body = json!({
                    "type": if legs.len() == 1 { "single" } else { "parlay" },
                    "stake": stake,
                    "legs": legs.iter().map(|&(m, sel)| json!({
                        "selectionId": book[m].1[sel], "odds": ODDS[sel].0})).collect::<Vec<_>>(),
                });
                let (status, body) = call(&s, Method::POST, "/api/v1/bets", &sam, Some(body)).await;
                answered.fetch_add(1, Ordering::Relaxed);
                out.push(Done::Bet {
                    legs,
                    stake,
                    status,
                    body,
                });
            }
            out
        }));
    }
    for (m, results) in RESULTS.iter().enumerate() {
        let (s, admin, start) = (s.clone(), admin.clone(), when(TOTAL * (m + 1) / 5));
        let (market, sel) = book[m].clone();
        let body = json!({"results": {sel[0].clone(): results[0], sel[1].clone(): results[1]}});
        tasks.push(tokio::spawn(async move {
            start.await;
            let path = format!("/api/v1/markets/{market}/settle");
            let (status, r) = call(&s, Method::POST, &path, &admin, Some(body)).await;
            vec![Done::Settle(status, r)]
        }));
    }
    for (d, id) in pending.into_iter().enumerate() {
        let (s, admin, start) = (
            s.clone(),
            admin.clone(),
            when(TOTAL * (d + 1) / (DEPOSITS + 2)),
        );
        tasks.push(tokio::spawn(async move {
            start.await;
            let path = format!("/api/v1/wallet/transactions/{id}/resolve");
            let body = Some(json!({"status": "completed"}));
            let (status, r) = call(&s, Method::POST, &path, &admin, body).await;
            vec![Done::Deposit(status, r)]
        }));
    }
    for w in 0..WITHDRAWALS {
        let start = when(TOTAL * (2 * w + 1) / (2 * WITHDRAWALS + 2));
        let (s, sam) = (s.clone(), sam.clone());
        tasks.push(tokio::spawn(async move {
            start.await;
            let body = Some(json!({"amount": WITHDRAWAL}));
            let (status, r) =
                call(&s, Method::POST, "/api/v1/wallet/withdrawals", &sam, body).await;
            vec![Done::Withdrawal(status, r)]
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.extend(t.await.unwrap());
    }

    // What went otherwise than the rules say, all of it, so that a failure shows the
    // deadlock count too.
    let mut problems: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };

    // Every request answered as the rules say, none with a fault of ours (no 5xx).
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();
    let mut placed: HashMap<String, (Vec<(usize, usize)>, i64)> = HashMap::new();
    let (mut deposited, mut withdrawn, mut settled_payout) = (0, 0, 0);
    for d in &done {
        match d {
            Done::Bet {
                legs,
                stake,
                status: 201,
                body,
            } => {
                let id = body["data"]["id"].as_str().unwrap().to_owned();
                placed.insert(id, (legs.clone(), *stake));
            }
            Done::Bet {
                legs,
                status: 422,
                body,
                ..
            } if code(body) == "INSUFFICIENT_FUNDS"
                || (code(body) == "MARKET_CLOSED" && legs.iter().any(|l| l.0 < SETTLED)) => {}
            Done::Settle(200, r) if r["data"]["marketStatus"] == "settled" => {
                settled_payout += r["data"]["netPayout"].as_i64().unwrap()
            }
            Done::Deposit(200, r) if r["data"]["status"] == "completed" => deposited += DEPOSIT,
            Done::Withdrawal(201, _) => withdrawn += WITHDRAWAL,
            Done::Withdrawal(422, r) if code(r) == "INSUFFICIENT_FUNDS" => {}
            other => check(
                false,
                format!("answered otherwise than the rules say: {other:?}"),
            ),
        }
    }
    check(
        placed.len() >= TOTAL / 3,
        format!("the race placed only {} bets of {TOTAL}", placed.len()),
    );
    check(
        deposited == DEPOSIT * DEPOSITS as i64,
        format!("deposits completed: {deposited}"),
    );

    // Every bet settled exactly once by the rules, or still open with a leg on an open
    // market; the settlements' payouts are those of the bets they settled.
    let mut bets = Vec::new();
    for page in 1.. {
        let (status, r) = call(
            &s,
            Method::GET,
            &format!("/api/v1/bets?page={page}&limit=100"),
            &sam,
            None,
        )
        .await;
        assert_eq!(status, 200, "{r}");
        let items = r["data"]["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        bets.extend(items);
    }
    check(
        bets.len() == placed.len(),
        format!(
            "{} bets stored, {} answered 201: every 201 is a bet, and only those",
            bets.len(),
            placed.len()
        ),
    );
    let (mut staked, mut open_stakes, mut returned) = (0, 0, 0);
    for bet in &bets {
        let id = bet["id"].as_str().unwrap();
        let Some((legs, stake)) = placed.get(id) else {
            check(false, format!("a bet no request was told of: {bet}"));
            continue;
        };
        check(
            bet["stake"].as_i64() == Some(*stake),
            format!("stake: {bet}"),
        );
        staked += stake;
        let (status, r) = expected(legs, *stake).unwrap_or(("accepted", 0));
        check(
            (bet["status"].as_str(), bet["actualWin"].as_i64()) == (Some(status), Some(r)),
            format!("expected {status} returning {r}: {bet}"),
        );
        if status == "accepted" {
            open_stakes += stake;
        }
        returned += r;
    }
    check(
        settled_payout == returned,
        format!("settlements paid {settled_payout}, the bets' returns are {returned}"),
    );
    let (status, w) = call(&s, Method::GET, "/api/v1/wallet", &sam, None).await;
    assert_eq!(status, 200, "{w}");
    let expected_wallet = (
        FUNDS + deposited - staked + returned - withdrawn,
        open_stakes + withdrawn,
    );
    check(
        (
            w["data"]["balance"].as_i64(),
            w["data"]["pendingBalance"].as_i64(),
        ) == (Some(expected_wallet.0), Some(expected_wallet.1)),
        format!("wallet {w}, expected (cash, pending) {expected_wallet:?}"),
    );
    let (status, r) = call(
        &s,
        Method::GET,
        "/api/v1/wallet/reconciliation",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    check(
        r["data"]["balanced"] == true,
        format!("reconciliation: {r}"),
    );

    // PostgreSQL broke no deadlock in this database.
    let after = s.db.deadlocks(true).await;
    if let (Some(before), Some(after)) = (deadlocks_before, after) {
        check(
            after == before,
            format!("pg_stat_database.deadlocks went from {before} to {after}"),
        );
    }
    assert!(
        problems.is_empty(),
        "{} problem(s); deadlocks {deadlocks_before:?} before, {after:?} after:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // And the count would have shown one.
    if let Some(after) = after {
        assert!(s.db.cause_deadlock().await);
        assert_eq!(
            s.db.deadlocks(true).await,
            Some(after + 1),
            "the counter sees a deadlock"
        );
    }
}
