//! Bets and their legs (the seed's bets and bet_selections) and exposure. Compiled once per
//! backend.

use std::collections::HashMap;

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::events::NewEvent;
use betflow_domain::sportsbook::bets::{
    Bet, BetFilter, BetLeg, BetStatus, BetType, LegResult, SelectionExposure,
};
use betflow_domain::sportsbook::catalog::{Event as Fixture, Market, Selection};
use betflow_domain::sportsbook::wallet::Transfer;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder, Row};
use uuid::Uuid;

use super::audit::{corrupt, micros, part, push_audits_insert, push_page, to_total};
use super::catalog::{EVENT, EventRow, MARKET, MarketRow, SELECTION, SelectionRow, dec, qualified};
use super::events::push_events_insert;
use super::wallet::{
    balances, limits_at, moved_within, push_move_within, push_transactions_insert,
    push_transfers_insert,
};
use super::{BackendStore, BackendTx, Db, FOR_UPDATE, LOCK_ACCOUNTS, SHARE_LEGS, WRITE_CTE};
use crate::{
    BatchContext, BetContext, BetRead, BetWrite, Placement, Result, StoreError, WalletWrite,
};

const BET: &str = "id, user_id, type, status, stake, total_odds, potential_win, actual_win, \
    currency_code, placed_at, settled_at, void_reason, metadata";
const LEG: &str = "bs.id, bs.bet_id, bs.selection_id, bs.market_id, bs.event_id, bs.odds, \
    bs.result, bs.settled_at, s.name AS selection_name";
/// Binds per `IN (...)` list, well under both backends' limits.
const CHUNK: usize = 1000;

#[derive(FromRow)]
struct BetRow {
    id: Uuid,
    user_id: Uuid,
    #[sqlx(rename = "type")]
    bet_type: String,
    status: String,
    stake: i64,
    total_odds: String,
    potential_win: i64,
    actual_win: i64,
    currency_code: String,
    placed_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
    void_reason: Option<String>,
    metadata: Json<Value>,
}

#[derive(FromRow)]
struct LegRow {
    id: Uuid,
    bet_id: Uuid,
    selection_id: Uuid,
    market_id: Uuid,
    event_id: Uuid,
    odds: String,
    result: Option<String>,
    settled_at: Option<DateTime<Utc>>,
    selection_name: Option<String>,
}

impl TryFrom<LegRow> for BetLeg {
    type Error = StoreError;
    fn try_from(r: LegRow) -> Result<Self> {
        const T: &str = "bet_selections";
        Ok(Self {
            id: r.id,
            bet_id: r.bet_id,
            selection_id: r.selection_id,
            market_id: r.market_id,
            event_id: r.event_id,
            odds: dec(T, &r.odds)?,
            result: r
                .result
                .map(|s| LegResult::parse(&s).ok_or_else(|| corrupt(T, s)))
                .transpose()?,
            settled_at: r.settled_at,
            selection_name: r.selection_name,
        })
    }
}

fn bet_from(r: BetRow, legs: Vec<BetLeg>) -> Result<Bet> {
    const T: &str = "bets";
    Ok(Bet {
        id: r.id,
        user_id: r.user_id,
        bet_type: BetType::parse(&r.bet_type).ok_or_else(|| corrupt(T, &r.bet_type))?,
        status: BetStatus::parse(&r.status).ok_or_else(|| corrupt(T, &r.status))?,
        stake: r.stake,
        total_odds: dec(T, &r.total_odds)?,
        potential_win: r.potential_win,
        actual_win: r.actual_win,
        currency_code: r.currency_code,
        placed_at: r.placed_at,
        settled_at: r.settled_at,
        void_reason: r.void_reason,
        metadata: r.metadata.0,
        legs,
    })
}

/// The legs of a chunk of bets, with their selections' names.
fn legs_query(bets: &[BetRow]) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT {LEG} FROM bet_selections bs JOIN selections s ON s.id = bs.selection_id \
         WHERE bs.bet_id IN ("
    ));
    let mut ids = qb.separated(", ");
    for r in bets {
        ids.push_bind(r.id);
    }
    qb.push(") ORDER BY bs.bet_id, bs.position");
    qb
}

/// Puts bets and their legs together, keeping the bets' order.
fn assemble(rows: Vec<BetRow>, leg_rows: Vec<LegRow>) -> Result<Vec<Bet>> {
    let mut legs: HashMap<Uuid, Vec<BetLeg>> = HashMap::with_capacity(rows.len());
    for l in leg_rows {
        legs.entry(l.bet_id).or_default().push(BetLeg::try_from(l)?);
    }
    rows.into_iter()
        .map(|r| {
            let l = legs.remove(&r.id).unwrap_or_default();
            bet_from(r, l)
        })
        .collect()
}

impl BackendStore {
    async fn with_legs(&self, rows: Vec<BetRow>) -> Result<Vec<Bet>> {
        let mut legs = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            legs.extend(
                legs_query(chunk)
                    .build_query_as::<LegRow>()
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        assemble(rows, legs)
    }
}

fn push_bet_filter(qb: &mut QueryBuilder<Db>, f: &BetFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(user) = f.user_id {
        qb.push(" AND user_id = ").push_bind(user);
    }
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(from) = f.from {
        qb.push(" AND placed_at >= ").push_bind(micros(from));
    }
    if let Some(to) = f.to {
        qb.push(" AND placed_at < ").push_bind(micros(to));
    }
}

#[async_trait]
impl BetRead for BackendStore {
    async fn get_bet(&self, id: Uuid) -> Result<Option<Bet>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {BET} FROM bets WHERE id = "));
        qb.push_bind(id);
        let row: Option<BetRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(self.with_legs(vec![r]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list_bets(&self, f: &BetFilter) -> Result<Page<Bet>> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM bets");
        push_bet_filter(&mut count, f);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {BET} FROM bets"));
        push_bet_filter(&mut qb, f);
        qb.push(" ORDER BY placed_at DESC, id DESC");
        push_page(&mut qb, f.page);
        let rows: Vec<BetRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            self.with_legs(rows).await?,
            to_total(total),
            f.page,
        ))
    }

    async fn market_exposure(&self, market_id: Uuid) -> Result<Vec<SelectionExposure>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.id, s.market_id, COUNT(b.id), \
                    CAST(COALESCE(SUM(b.stake), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(b.potential_win), 0) AS BIGINT) \
             FROM selections s \
             LEFT JOIN bet_selections bs ON bs.selection_id = s.id \
             LEFT JOIN bets b ON b.id = bs.bet_id AND b.status IN ('pending', 'accepted') \
             WHERE s.market_id = ",
        );
        qb.push_bind(market_id)
            .push(" GROUP BY s.id, s.market_id, s.name ORDER BY s.name, s.id");
        let rows: Vec<(Uuid, Uuid, i64, i64, i64)> =
            qb.build_query_as().fetch_all(&self.pool).await?;
        // No two legs of one bet share an event, so the market's stakes are the sum of its
        // selections'.
        let market_stakes: i64 = rows.iter().map(|r| r.3).sum();
        Ok(rows
            .into_iter()
            .map(
                |(selection_id, market_id, open_bets, stakes, potential_payout)| {
                    SelectionExposure {
                        selection_id,
                        market_id,
                        open_bets,
                        stakes,
                        potential_payout,
                        net_liability: potential_payout - market_stakes,
                    }
                },
            )
            .collect())
    }
}

/// A leg's selection, market and event columns, side by side (see [`Legs::add`]).
static LEG_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, {}, {}",
        qualified(SELECTION, "s"),
        qualified(MARKET, "m"),
        qualified(EVENT, "e")
    )
});
const LEG_TABLES: &str =
    "FROM selections s JOIN markets m ON m.id = s.market_id JOIN events e ON e.id = m.event_id";
/// The start of [`BetWrite::bet_context`]'s statement: the legs, up to their id list.
static LEGS_CTE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH legs AS MATERIALIZED (SELECT {} {LEG_TABLES} WHERE s.id IN (",
        *LEG_COLUMNS
    )
});
const MARKET_AT: usize = 10;
const EVENT_AT: usize = MARKET_AT + 15;
/// The first column after a leg's.
const ACCOUNT_AT: usize = EVENT_AT + 15;

/// Selections with their markets and events, each once, from joined rows.
#[derive(Default)]
struct Legs {
    selections: Vec<Selection>,
    markets: Vec<Market>,
    events: Vec<Fixture>,
}

impl Legs {
    /// Adds the row's selection, market and event, each decoded only if not seen yet (a
    /// leg comes once per account row).
    fn add(&mut self, row: &<Db as sqlx::Database>::Row) -> Result<()> {
        let id: Uuid = row.try_get(0)?;
        if !self.selections.iter().any(|s| s.id == id) {
            self.selections
                .push(Selection::try_from(SelectionRow::at(row, 0)?)?);
        }
        let id: Uuid = row.try_get(MARKET_AT)?;
        if !self.markets.iter().any(|m| m.id == id) {
            self.markets
                .push(Market::try_from(MarketRow::at(row, MARKET_AT)?)?);
        }
        let id: Uuid = row.try_get(EVENT_AT)?;
        if !self.events.iter().any(|e| e.id == id) {
            self.events
                .push(Fixture::try_from(EventRow::at(row, EVENT_AT)?)?);
        }
        Ok(())
    }
}

#[async_trait]
impl BetWrite for BackendTx {
    async fn bet_context(
        &mut self,
        selection_ids: &[Uuid],
        user_id: Uuid,
        currency: &str,
    ) -> Result<BetContext> {
        // Each leg beside each of the customer's accounts (three rows per leg) and their
        // settings, decoded side by side, in one round trip that still takes its locks in
        // the crate's lock order: every leg's market and selection first (share, by market
        // id), then the accounts (by kind). The accounts' subquery waits for the count of all
        // the legs, so no account is locked before the last leg is; a plain join would lock
        // a leg and an account per row, and a settlement holding the second leg's market
        // while it waits for this customer's accounts would deadlock with it.
        let mut qb = QueryBuilder::<Db>::new(LEGS_CTE.as_str());
        let mut list = qb.separated(", ");
        for id in selection_ids {
            list.push_bind(*id);
        }
        qb.push(") ORDER BY m.id, s.id")
            .push(SHARE_LEGS)
            .push(
                "), accounts AS MATERIALIZED (SELECT owner_id, kind, balance, updated_at \
                 FROM ledger_accounts WHERE owner_id = ",
            )
            .push_bind(user_id)
            .push(" AND currency = ")
            .push_bind(currency.to_owned())
            .push(" AND (SELECT COUNT(*) FROM legs) >= 0 ORDER BY kind")
            .push(FOR_UPDATE)
            .push(
                ") SELECT legs.*, a.kind, a.balance, a.updated_at, rg.user_id, rg.limits, \
                 rg.exclusion, rg.updated_at FROM legs CROSS JOIN accounts a \
                 LEFT JOIN responsible_gambling rg ON rg.user_id = a.owner_id",
            );
        let rows = qb.build().fetch_all(&mut *self.tx).await?;
        let mut legs = Legs::default();
        let mut accounts: Vec<(String, i64, DateTime<Utc>)> = Vec::with_capacity(3);
        let mut limits = None;
        for row in &rows {
            legs.add(row)?;
            let kind: String = row.try_get(ACCOUNT_AT)?;
            if !accounts.iter().any(|a| a.0 == kind) {
                accounts.push((
                    kind,
                    row.try_get(ACCOUNT_AT + 1)?,
                    row.try_get(ACCOUNT_AT + 2)?,
                ));
            }
            if limits.is_none() {
                limits = limits_at(row, ACCOUNT_AT + 3)?;
            }
        }
        if accounts.len() < 3 {
            // A customer whose accounts are not all open yet (or no leg found): the two
            // reads apart, which open the accounts and tell missing legs from missing money.
            let (selections, markets, events) = self.leg_states(selection_ids).await?;
            let (balances, limits) = self.lock_wallet_with_limits(user_id, currency).await?;
            return Ok(BetContext {
                selections,
                markets,
                events,
                balances,
                limits,
            });
        }
        Ok(BetContext {
            selections: legs.selections,
            markets: legs.markets,
            events: legs.events,
            balances: balances(user_id, currency, accounts)?,
            limits,
        })
    }

    async fn batch_context(
        &mut self,
        selection_ids: &[Uuid],
        wallets: &[(Uuid, String)],
    ) -> Result<BatchContext> {
        let (selections, markets, events) = self.leg_states(selection_ids).await?;
        let mut ctx = BatchContext {
            selections,
            markets,
            events,
            wallets: Vec::with_capacity(wallets.len()),
        };
        if wallets.is_empty() {
            return Ok(ctx);
        }
        // Every account of each customer, locked in the lock order (owner, kind, currency):
        // two batches naming the same customers, or a batch and a single bet, lock them in
        // the same order and cannot deadlock.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT la.owner_id, la.currency, la.kind, la.balance, la.updated_at, rg.user_id, \
                    rg.limits, rg.exclusion, rg.updated_at \
             FROM ledger_accounts la \
             LEFT JOIN responsible_gambling rg ON rg.user_id = la.owner_id \
             WHERE la.owner_id IN (",
        );
        let mut list = qb.separated(", ");
        for (user, _) in wallets {
            list.push_bind(*user);
        }
        qb.push(") ORDER BY la.owner_id, la.kind, la.currency")
            .push(LOCK_ACCOUNTS);
        let rows = qb.build().fetch_all(&mut *self.tx).await?;
        let mut at = 0;
        while at < rows.len() {
            let owner: Uuid = rows[at].try_get(0)?;
            let end = rows[at..]
                .iter()
                .position(|r| r.try_get::<Uuid, _>(0).map_or(true, |o| o != owner))
                .map_or(rows.len(), |n| at + n);
            let group = &rows[at..end];
            at = end;
            let Some((_, currency)) = wallets.iter().find(|(u, _)| *u == owner) else {
                continue;
            };
            let mut accounts = Vec::with_capacity(3);
            for row in group {
                if row.try_get::<String, _>(1)?.trim_end() == currency {
                    accounts.push((row.try_get(2)?, row.try_get(3)?, row.try_get(4)?));
                }
            }
            if accounts.len() < 3 {
                continue;
            }
            let limits = limits_at(&group[0], 5)?;
            ctx.wallets
                .push((balances(owner, currency, accounts)?, limits));
        }
        Ok(ctx)
    }

    async fn record_placements(&mut self, placements: &[Placement]) -> Result<()> {
        for chunk in statements(placements, placement_bytes) {
            self.record_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn leg_states(
        &mut self,
        selection_ids: &[Uuid],
    ) -> Result<(Vec<Selection>, Vec<Market>, Vec<Fixture>)> {
        // One round trip: each selection joined to its market and event, decoded side by side.
        static LEGS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!("SELECT {} {LEG_TABLES} WHERE s.id IN (", *LEG_COLUMNS)
        });
        let mut qb = QueryBuilder::<Db>::new(LEGS.as_str());
        let mut list = qb.separated(", ");
        for id in selection_ids {
            list.push_bind(*id);
        }
        // In the lock order: by market, each market before its selections.
        qb.push(") ORDER BY m.id, s.id").push(SHARE_LEGS);
        let rows = qb.build().fetch_all(&mut *self.tx).await?;
        let mut legs = Legs::default();
        for row in &rows {
            legs.add(row)?;
        }
        Ok((legs.selections, legs.markets, legs.events))
    }

    async fn bet_usage(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<(i64, i64)> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT CAST(COALESCE(SUM(stake), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(stake - actual_win), 0) AS BIGINT) \
             FROM bets WHERE user_id = ",
        );
        qb.push_bind(user_id)
            .push(" AND placed_at >= ")
            .push_bind(micros(since));
        Ok(qb.build_query_as().fetch_one(&mut *self.tx).await?)
    }

    async fn record_placement(&mut self, p: &Placement) -> Result<()> {
        // One round trip: on PostgreSQL every insert is a data-modifying CTE of the statement
        // that holds the stake (foreign keys between the parts are checked at its end); on
        // SQLite the same statements go to its thread as one batch.
        let hold = &p.hold;
        let at = micros(hold.created_at);
        let mut qb = QueryBuilder::<Db>::new(if WRITE_CTE { "WITH b AS (" } else { "" });
        push_bets_insert(&mut qb, [&p.bet]);
        qb.push(part("), l AS ("));
        push_legs_insert(&mut qb, [&p.bet]);
        qb.push(part("), t AS ("));
        push_transactions_insert(&mut qb, [&p.debit]);
        qb.push(part("), x AS ("));
        push_transfers_insert(&mut qb, std::slice::from_ref(hold));
        qb.push(part("), a AS ("));
        push_audits_insert(&mut qb, [&p.audit]);
        push_events_part(&mut qb, &p.events);
        qb.push(part(") "));
        push_move_within(&mut qb, hold, at);
        let kinds: Vec<String> = qb.build_query_scalar().fetch_all(&mut *self.tx).await?;
        if !moved_within(hold, &kinds)? {
            // The pending account had no row yet: move the projection the long way.
            self.debit(hold, at).await?;
            self.credit(hold, at).await?;
        }
        Ok(())
    }

    async fn market_selections(&mut self, market_id: Uuid) -> Result<Vec<Selection>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {SELECTION} FROM selections WHERE market_id = "
        ));
        qb.push_bind(market_id).push(" ORDER BY created_at, id");
        let rows: Vec<SelectionRow> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(Selection::try_from).collect()
    }

    async fn lock_bets_on_market(&mut self, market_id: Uuid) -> Result<Vec<Bet>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {BET} FROM bets WHERE id IN \
             (SELECT bet_id FROM bet_selections WHERE market_id = "
        ));
        qb.push_bind(market_id)
            .push(") ORDER BY id")
            .push(FOR_UPDATE);
        let rows: Vec<BetRow> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        let mut legs = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            legs.extend(
                legs_query(chunk)
                    .build_query_as::<LegRow>()
                    .fetch_all(&mut *self.tx)
                    .await?,
            );
        }
        assemble(rows, legs)
    }

    async fn update_bet(&mut self, b: &Bet) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE bets SET status = ");
        qb.push_bind(b.status.as_str())
            .push(", actual_win = ")
            .push_bind(b.actual_win)
            .push(", settled_at = ")
            .push_bind(b.settled_at.map(micros))
            .push(", void_reason = ")
            .push_bind(b.void_reason.clone())
            .push(" WHERE id = ")
            .push_bind(b.id);
        qb.build().execute(&mut *self.tx).await?;
        for l in &b.legs {
            let mut qb = QueryBuilder::<Db>::new("UPDATE bet_selections SET result = ");
            qb.push_bind(l.result.map(LegResult::as_str))
                .push(", settled_at = ")
                .push_bind(l.settled_at.map(micros))
                .push(" WHERE id = ")
                .push_bind(l.id);
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn market_results(
        &mut self,
        market_id: Uuid,
    ) -> Result<Option<HashMap<Uuid, LegResult>>> {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT results FROM market_results WHERE market_id = ");
        qb.push_bind(market_id);
        let row: Option<(Json<Value>,)> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(|(j,)| serde_json::from_value(j.0).map_err(|e| corrupt("market_results", e)))
            .transpose()
    }

    async fn save_market_results(
        &mut self,
        market_id: Uuid,
        results: &HashMap<Uuid, LegResult>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let doc = serde_json::to_value(results).map_err(|e| corrupt("market_results", e))?;
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO market_results (market_id, results, settled_at) VALUES (",
        );
        qb.push_bind(market_id)
            .push(", ")
            .push_bind(Json(doc))
            .push(", ")
            .push_bind(micros(at))
            .push(
                ") ON CONFLICT (market_id) DO UPDATE SET results = excluded.results, \
                 settled_at = excluded.settled_at",
            );
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}

impl BackendTx {
    /// One statement of [`BetWrite::record_placements`].
    async fn record_chunk(&mut self, placements: &[Placement]) -> Result<()> {
        let Some(first) = placements.first() else {
            return Ok(());
        };
        // The stakes to hold, summed per customer: one row of the guarded update each, since
        // an UPDATE ... FROM changes a row at most once however many source rows match it.
        let mut holds: Vec<(Uuid, &str, i64)> = Vec::with_capacity(placements.len());
        for p in placements {
            let h = &p.hold;
            if h.from.owner != h.to.owner
                || h.from.kind != first.hold.from.kind
                || h.to.kind != first.hold.to.kind
            {
                return Err(StoreError::Database(
                    "a batch holds stakes within each customer's own accounts only".into(),
                ));
            }
            match holds.iter_mut().find(|(o, ..)| *o == h.from.owner) {
                Some(s) => s.2 += h.amount,
                None => holds.push((h.from.owner, h.from.currency.as_str(), h.amount)),
            }
        }
        // In the lock order, although the batch's context locked these rows already.
        holds.sort_unstable_by_key(|&(owner, currency, _)| (owner, currency));
        let (from, to) = (first.hold.from.kind.as_str(), first.hold.to.kind.as_str());
        let mut qb = QueryBuilder::<Db>::new(if WRITE_CTE { "WITH b AS (" } else { "" });
        push_bets_insert(&mut qb, placements.iter().map(|p| &p.bet));
        qb.push(part("), l AS ("));
        push_legs_insert(&mut qb, placements.iter().map(|p| &p.bet));
        qb.push(part("), t AS ("));
        push_transactions_insert(&mut qb, placements.iter().map(|p| &p.debit));
        qb.push(part("), x AS ("));
        let transfers: Vec<Transfer> = placements.iter().map(|p| p.hold.clone()).collect();
        push_transfers_insert(&mut qb, &transfers);
        qb.push(part("), a AS ("));
        push_audits_insert(&mut qb, placements.iter().map(|p| &p.audit));
        let events: Vec<NewEvent> = placements
            .iter()
            .flat_map(|p| p.events.iter().cloned())
            .collect();
        push_events_part(&mut qb, &events);
        qb.push(part(") "));
        qb.push("UPDATE ledger_accounts SET balance = balance + CASE kind WHEN ")
            .push_bind(from)
            .push(" THEN -v.column3 ELSE v.column3 END, updated_at = ")
            .push_bind(micros(first.hold.created_at))
            .push(" FROM (");
        qb.push_values(&holds, |mut v, (owner, currency, amount)| {
            v.push_bind(*owner)
                .push_bind((*currency).to_owned())
                .push_bind(*amount);
        });
        qb.push(") AS v WHERE owner_id = v.column1 AND currency = v.column2 AND (kind = ")
            .push_bind(to)
            .push(" OR (kind = ")
            .push_bind(from)
            .push(" AND balance >= v.column3)) RETURNING owner_id, kind");
        let moved: Vec<(Uuid, String)> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        for (owner, ..) in &holds {
            let kinds = moved.iter().filter(|(o, _)| o == owner).map(|(_, k)| k);
            let (mut debited, mut credited) = (false, false);
            for k in kinds {
                debited |= k == from;
                credited |= k == to;
            }
            if !(debited && credited) {
                return Err(StoreError::InsufficientFunds {
                    owner: *owner,
                    kind: first.hold.from.kind.as_str(),
                });
            }
        }
        Ok(())
    }
}

/// The most parameter bytes one statement of a batch of placements carries. sqlx 0.9 leaves
/// Nagle's algorithm on for its TCP sockets and writes a TLS connection one record (16 KiB)
/// at a time: a larger message waits for the server's delayed ACK, 40 ms on Linux, before
/// its last record goes out. Measured: batches of 11 bets and more took 46 ms each, ten and
/// fewer 2–4 ms.
const STATEMENT_BYTES: usize = 14 * 1024;

/// `items` cut into runs whose estimated parameters fit one statement (see
/// [`STATEMENT_BYTES`]); an item larger than that goes alone.
pub(super) fn statements<T>(items: &[T], bytes_of: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take_while(|item| {
                bytes += bytes_of(item);
                bytes <= STATEMENT_BYTES
            })
            .count()
            .max(1);
        let (chunk, tail) = rest.split_at(n);
        out.push(chunk);
        rest = tail;
    }
    out
}

/// About how many bytes of parameters a placement adds to its statement: the audit row's
/// values dominate (the whole bet), each leg adds its row, the rest is about a kilobyte.
fn placement_bytes(p: &Placement) -> usize {
    let json = |v: &Option<Value>| v.as_ref().map_or(0, json_len);
    let events: usize = p.events.iter().map(|e| 256 + json_len(&e.payload)).sum();
    1024 + 192 * p.bet.legs.len() + json(&p.audit.old_values) + json(&p.audit.new_values) + events
}

/// The outbox events of a placement statement, as its next part (after the audit rows), so
/// they are written exactly when the bets are.
fn push_events_part(qb: &mut QueryBuilder<Db>, events: &[NewEvent]) {
    if events.is_empty() {
        return;
    }
    qb.push(part("), e AS ("));
    push_events_insert(qb, events);
}

/// The length of `v` as JSON text, without building the text.
pub(super) fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => 0,
    }
}

/// `INSERT INTO bets ... VALUES (...), ...` for `bets`, appended to `qb`.
fn push_bets_insert<'b>(qb: &mut QueryBuilder<Db>, bets: impl IntoIterator<Item = &'b Bet>) {
    qb.push(format!("INSERT INTO bets ({BET}) "));
    qb.push_values(bets, |mut v, b| {
        v.push_bind(b.id)
            .push_bind(b.user_id)
            .push_bind(b.bet_type.as_str())
            .push_bind(b.status.as_str())
            .push_bind(b.stake)
            .push_bind(b.total_odds.normalize().to_string())
            .push_bind(b.potential_win)
            .push_bind(b.actual_win)
            .push_bind(b.currency_code.clone())
            .push_bind(micros(b.placed_at))
            .push_bind(b.settled_at.map(micros))
            .push_bind(b.void_reason.clone())
            .push_bind(Json(b.metadata.clone()));
    });
}

/// `INSERT INTO bet_selections ... VALUES ...` for the legs of `bets`, appended to `qb`.
fn push_legs_insert<'b>(qb: &mut QueryBuilder<Db>, bets: impl IntoIterator<Item = &'b Bet>) {
    qb.push(
        "INSERT INTO bet_selections (id, bet_id, selection_id, market_id, event_id, \
         position, odds, result, settled_at) ",
    );
    let legs = bets.into_iter().flat_map(|b| b.legs.iter().enumerate());
    qb.push_values(legs, |mut v, (i, l)| {
        v.push_bind(l.id)
            .push_bind(l.bet_id)
            .push_bind(l.selection_id)
            .push_bind(l.market_id)
            .push_bind(l.event_id)
            .push_bind(i16::try_from(i).unwrap_or(i16::MAX))
            .push_bind(l.odds.normalize().to_string())
            .push_bind(l.result.map(LegResult::as_str))
            .push_bind(l.settled_at.map(micros));
    });
}
