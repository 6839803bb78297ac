//! The ledger side of a bet: its settlement's transfers, their reversal, and the seed's
//! transactions rows for debits and credits.

use betflow_domain::sportsbook::bets::Bet;
use betflow_domain::sportsbook::wallet::{
    Account, AccountKind, Transaction, TransactionStatus, TransactionType, Transfer, TransferKind,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

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

pub(super) fn bet_transaction(
    bet: &Bet,
    tx_type: TransactionType,
    amount: i64,
    at: DateTime<Utc>,
) -> Transaction {
    let id = Uuid::now_v7();
    Transaction {
        id,
        user_id: bet.user_id,
        tx_type,
        amount,
        currency_code: bet.currency_code.clone(),
        status: TransactionStatus::Completed,
        reference: Transaction::reference_for(tx_type, id),
        external_reference: None,
        description: None,
        payment_method_id: None,
        related_bet_id: Some(bet.id),
        processor_response: None,
        fees: 0,
        net_amount: amount,
        processed_at: Some(at),
        created_at: at,
        updated_at: at,
    }
}
