//! The ledger side of a settled bet: its settlement's transfers and their reversal (the
//! transactions rows for debits and credits are the domain's
//! [`bet_transaction`](betflow_domain::sportsbook::placement::bet_transaction)).

use betflow_domain::sportsbook::bets::Bet;
use betflow_domain::sportsbook::wallet::{Account, AccountKind, Transfer, TransferKind};

/// Returns and transfers of one settled bet.
pub(super) fn settlement_transfers(bet: &Bet, payout: i64) -> Vec<Transfer> {
    let c = &bet.currency_code;
    let mut t = vec![
        Transfer::new(
            Account::customer(bet.user_id, AccountKind::Pending, c),
            Account::house(AccountKind::Stakes, c),
            bet.stake,
            TransferKind::StakeTaken,
        )
        .for_bet(bet.id),
    ];
    if payout > 0 {
        t.push(
            Transfer::new(
                Account::house(AccountKind::Payouts, c),
                Account::customer(bet.user_id, AccountKind::Cash, c),
                payout,
                TransferKind::Payout,
            )
            .for_bet(bet.id),
        );
    }
    t
}

/// Undoes [`settlement_transfers`]: the return comes back from the customer's cash (refused
/// if they no longer have it) and the stake is held again.
pub(super) fn reversal_transfers(bet: &Bet) -> Vec<Transfer> {
    let c = &bet.currency_code;
    let mut t = Vec::with_capacity(2);
    if bet.actual_win > 0 {
        t.push(
            Transfer::new(
                Account::customer(bet.user_id, AccountKind::Cash, c),
                Account::house(AccountKind::Payouts, c),
                bet.actual_win,
                TransferKind::Reversal,
            )
            .for_bet(bet.id),
        );
    }
    t.push(
        Transfer::new(
            Account::house(AccountKind::Stakes, c),
            Account::customer(bet.user_id, AccountKind::Pending, c),
            bet.stake,
            TransferKind::Reversal,
        )
        .for_bet(bet.id),
    );
    t
}
