//! Placing bets, settling markets (settle, void, resettle) and exposure, as the [`Bets`]
//! service (`engine.bets()`).
//!
//! - `service`: the service, placement of one bet, history and exposure;
//! - `placement`: bets placed in batches, decided by the domain's placement decision
//!   (`betflow_domain::sportsbook::placement::decide`), as a bet placed alone is;
//! - `settlement`: settling, voiding and resettling markets;
//! - `ledger`: a bet's transfers and transactions rows.
//!
//! Lock order, the same everywhere, so placements and settlements never deadlock: the
//! markets and selections first (placements share-lock them, settlement locks its market
//! exclusively), then customers' accounts, in user-id order when there are several.

mod ledger;
mod placement;
mod service;
mod settlement;

pub use service::Bets;
pub use settlement::{SettleMode, SettlementReport};
