//! Bets: placement, exposure and settlement.

use std::collections::HashMap;

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::sportsbook::bets::{Bet, BetFilter, LegResult, SelectionExposure};
use betflow_domain::sportsbook::catalog::{Event as Fixture, Market, Selection};
use betflow_domain::sportsbook::limits::ResponsibleGambling;
use betflow_domain::sportsbook::wallet::Balances;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading bets and exposure.
#[async_trait]
pub trait BetRead {
    async fn get_bet(&self, id: Uuid) -> Result<Option<Bet>>;
    /// Newest first, with legs and selection names (get_user_betting_history).
    async fn list_bets(&self, filter: &BetFilter) -> Result<Page<Bet>>;
    /// Per selection of the market, over open bets.
    async fn market_exposure(&self, market_id: Uuid) -> Result<Vec<SelectionExposure>>;
}

/// What a bet is decided on, read in one round trip inside its transaction.
#[derive(Debug, Clone)]
pub struct BetContext {
    pub selections: Vec<Selection>,
    pub markets: Vec<Market>,
    pub events: Vec<Fixture>,
    /// The customer's balances, their accounts locked.
    pub balances: Balances,
    pub limits: Option<ResponsibleGambling>,
}

/// Several customers' wallets read for one batch of placements: each customer whose three
/// accounts (cash, bonus, pending) are open in the currency asked for, with their limits.
#[derive(Debug, Clone, Default)]
pub struct BatchContext {
    pub selections: Vec<Selection>,
    pub markets: Vec<Market>,
    pub events: Vec<Fixture>,
    /// The customers' balances, their accounts locked, in user-id order.
    pub wallets: Vec<(Balances, Option<ResponsibleGambling>)>,
}

/// Everything one placed bet writes: the domain's value, decided there (see
/// [`betflow_domain::sportsbook::placement::decide`]), re-exported so `betflow_store::Placement`
/// names it.
pub use betflow_domain::sportsbook::placement::Placement;

/// Placing and settling bets, inside a transaction.
#[async_trait]
pub trait BetWrite {
    /// What a batch of placements is decided on, in two round trips: the legs share-locked
    /// (as in [`leg_states`](Self::leg_states)), then every named customer's accounts locked
    /// in user-id order, so concurrent batches and single placements never deadlock.
    async fn batch_context(
        &mut self,
        selection_ids: &[Uuid],
        wallets: &[(Uuid, String)],
    ) -> Result<BatchContext>;
    /// Writes a batch of placed bets in one statement (PostgreSQL) or one batch of statements
    /// (SQLite): each customer's stakes held with one guarded update of their accounts.
    /// Fails with [`StoreError::InsufficientFunds`](crate::StoreError::InsufficientFunds) if a customer cannot cover their stakes,
    /// and then the caller must roll the transaction back.
    async fn record_placements(&mut self, placements: &[Placement]) -> Result<()>;
    /// [`leg_states`](Self::leg_states) and
    /// [`WalletWrite::lock_wallet_with_limits`](super::WalletWrite::lock_wallet_with_limits) in one round trip: the legs share-locked
    /// before the customer's accounts are locked, as when read separately.
    async fn bet_context(
        &mut self,
        selection_ids: &[Uuid],
        user_id: Uuid,
        currency: &str,
    ) -> Result<BetContext>;
    /// The selections, with their markets and events, read under a share lock on the
    /// selections and markets (PostgreSQL) so a suspension or odds change waits for the bets
    /// already checking against the old state.
    async fn leg_states(
        &mut self,
        selection_ids: &[Uuid],
    ) -> Result<(Vec<Selection>, Vec<Market>, Vec<Fixture>)>;
    /// Stakes, and stakes less returns, of the customer's bets placed since `since`: what
    /// counts against stake and loss limits.
    async fn bet_usage(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<(i64, i64)>;
    /// Writes a placed bet: the bet and its legs, its `bet_debit` transaction, the stake held
    /// (a transfer between one customer's own accounts, with the projection), its audit row
    /// and its outbox events, in one statement where the backend allows (PostgreSQL). Fails
    /// with [`StoreError::InsufficientFunds`](crate::StoreError::InsufficientFunds) if the
    /// debit cannot be covered, and then the caller must roll the transaction back.
    async fn record_placement(&mut self, placement: &Placement) -> Result<()>;
    /// The market's selections, read inside this transaction. A settlement holding the
    /// market's lock reads them here: a read through the pool would wait for a second
    /// connection while the bets queued on that lock hold the others, and a full pool
    /// would hang them all.
    async fn market_selections(&mut self, market_id: Uuid) -> Result<Vec<Selection>>;
    /// Every bet with a leg on the market, with all its legs, locked for settlement in id
    /// order (after the market's lock, before any account's: see "Lock order").
    async fn lock_bets_on_market(&mut self, market_id: Uuid) -> Result<Vec<Bet>>;
    /// Writes a bet's status, return, settlement time, void reason and legs' results.
    async fn update_bet(&mut self, bet: &Bet) -> Result<()>;
    /// The results a market was last settled with, by selection id.
    async fn market_results(&mut self, market_id: Uuid)
    -> Result<Option<HashMap<Uuid, LegResult>>>;
    async fn save_market_results(
        &mut self,
        market_id: Uuid,
        results: &HashMap<Uuid, LegResult>,
        at: DateTime<Utc>,
    ) -> Result<()>;
}
