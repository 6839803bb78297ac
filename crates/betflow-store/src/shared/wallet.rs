//! Wallets: the ledger's transfers and customer-account projection, deposits and withdrawals
//! (the seed's transactions), payment methods, idempotency keys and responsible-gambling
//! settings. Compiled once per backend.

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::idempotency::Outcome;
use betflow_domain::refusal::RefusalKind;
use betflow_domain::sportsbook::limits::ResponsibleGambling;
use betflow_domain::sportsbook::wallet::{
    AccountKind, Balances, PaymentMethod, PaymentMethodType, Transaction, TransactionStatus,
    TransactionType, Transfer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder, Row};
use uuid::Uuid;

use super::audit::{corrupt, micros, push_page, to_total};
use super::{BACKEND, BackendStore, BackendTx, Db, FOR_UPDATE, LOCK_ACCOUNTS};
use crate::{
    AccountCheck, Backend, IdempotencyClaim, Result, StoreError, TransactionFilter, WalletRead,
    WalletWrite,
};

const TRANSACTION: &str = "id, user_id, type, amount, currency_code, status, reference, \
    external_reference, description, payment_method_id, related_bet_id, processor_response, \
    fees, net_amount, processed_at, created_at, updated_at";
const PAYMENT_METHOD: &str = "id, user_id, type, name, details, is_default, is_active, \
    last_used_at, expires_at, created_at, updated_at";
const BALANCES: &str =
    "user_id, currency_code, balance, bonus_balance, pending_balance, last_updated";

#[derive(FromRow)]
struct BalancesRow {
    user_id: Uuid,
    currency_code: String,
    balance: i64,
    bonus_balance: i64,
    pending_balance: i64,
    last_updated: Option<DateTime<Utc>>,
}

impl From<BalancesRow> for Balances {
    fn from(r: BalancesRow) -> Self {
        Self {
            user_id: r.user_id,
            currency_code: r.currency_code,
            balance: r.balance,
            bonus_balance: r.bonus_balance,
            pending_balance: r.pending_balance,
            last_updated: r.last_updated,
        }
    }
}

#[derive(FromRow)]
struct TransactionRow {
    id: Uuid,
    user_id: Uuid,
    #[sqlx(rename = "type")]
    tx_type: String,
    amount: i64,
    currency_code: String,
    status: String,
    reference: String,
    external_reference: Option<String>,
    description: Option<String>,
    payment_method_id: Option<Uuid>,
    related_bet_id: Option<Uuid>,
    processor_response: Option<Json<Value>>,
    fees: i64,
    net_amount: i64,
    processed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TransactionRow> for Transaction {
    type Error = StoreError;
    fn try_from(r: TransactionRow) -> Result<Self> {
        const T: &str = "transactions";
        Ok(Self {
            id: r.id,
            user_id: r.user_id,
            tx_type: TransactionType::parse(&r.tx_type).ok_or_else(|| corrupt(T, &r.tx_type))?,
            amount: r.amount,
            currency_code: r.currency_code,
            status: TransactionStatus::parse(&r.status).ok_or_else(|| corrupt(T, &r.status))?,
            reference: r.reference,
            external_reference: r.external_reference,
            description: r.description,
            payment_method_id: r.payment_method_id,
            related_bet_id: r.related_bet_id,
            processor_response: r.processor_response.map(|j| j.0),
            fees: r.fees,
            net_amount: r.net_amount,
            processed_at: r.processed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct PaymentMethodRow {
    id: Uuid,
    user_id: Uuid,
    #[sqlx(rename = "type")]
    method_type: String,
    name: String,
    details: Json<Value>,
    is_default: bool,
    is_active: bool,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PaymentMethodRow> for PaymentMethod {
    type Error = StoreError;
    fn try_from(r: PaymentMethodRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            user_id: r.user_id,
            method_type: PaymentMethodType::parse(&r.method_type)
                .ok_or_else(|| corrupt("payment_methods", &r.method_type))?,
            name: r.name,
            details: r.details.0,
            is_default: r.is_default,
            is_active: r.is_active,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct RgRow {
    user_id: Uuid,
    limits: Json<Value>,
    exclusion: Option<Json<Value>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RgRow> for ResponsibleGambling {
    type Error = StoreError;
    fn try_from(r: RgRow) -> Result<Self> {
        const T: &str = "responsible_gambling";
        Ok(Self {
            user_id: r.user_id,
            limits: serde_json::from_value(r.limits.0).map_err(|e| corrupt(T, e))?,
            exclusion: r
                .exclusion
                .map(|j| serde_json::from_value(j.0))
                .transpose()
                .map_err(|e| corrupt(T, e))?,
            updated_at: r.updated_at,
        })
    }
}

/// A customer's settings from a joined row's `user_id, limits, exclusion, updated_at`
/// columns starting at `offset` (all NULL when they have none).
pub(super) fn limits_at(
    row: &<Db as sqlx::Database>::Row,
    offset: usize,
) -> Result<Option<ResponsibleGambling>> {
    let Some(user_id) = row.try_get::<Option<Uuid>, _>(offset)? else {
        return Ok(None);
    };
    ResponsibleGambling::try_from(RgRow {
        user_id,
        limits: row.try_get(offset + 1)?,
        exclusion: row.try_get(offset + 2)?,
        updated_at: row.try_get(offset + 3)?,
    })
    .map(Some)
}

/// A customer's balances from their account rows (kind, balance, updated at).
pub(super) fn balances(
    user_id: Uuid,
    currency: &str,
    rows: impl IntoIterator<Item = (String, i64, DateTime<Utc>)>,
) -> Result<Balances> {
    let mut b = Balances {
        user_id,
        currency_code: currency.to_owned(),
        balance: 0,
        bonus_balance: 0,
        pending_balance: 0,
        last_updated: None,
    };
    for (kind, balance, at) in rows {
        match AccountKind::parse(&kind) {
            Some(AccountKind::Cash) => b.balance = balance,
            Some(AccountKind::Bonus) => b.bonus_balance = balance,
            Some(AccountKind::Pending) => b.pending_balance = balance,
            _ => return Err(corrupt("ledger_accounts", kind)),
        }
        b.last_updated = b.last_updated.max(Some(at));
    }
    Ok(b)
}

fn push_transaction_filter(qb: &mut QueryBuilder<Db>, f: &TransactionFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(user) = f.user_id {
        qb.push(" AND user_id = ").push_bind(user);
    }
    if let Some(t) = f.tx_type {
        qb.push(" AND type = ").push_bind(t.as_str());
    }
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
}

const RG_SELECT: &str = "SELECT user_id, limits, exclusion, updated_at FROM responsible_gambling \
    WHERE user_id = ";

#[async_trait]
impl WalletRead for BackendStore {
    async fn get_balances(&self, user_id: Uuid) -> Result<Vec<Balances>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {BALANCES} FROM user_balances WHERE user_id = "
        ));
        qb.push_bind(user_id).push(" ORDER BY currency_code");
        let rows: Vec<BalancesRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Balances::from).collect())
    }

    async fn get_transaction(&self, id: Uuid) -> Result<Option<Transaction>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {TRANSACTION} FROM transactions WHERE id = "
        ));
        qb.push_bind(id);
        let row: Option<TransactionRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Transaction::try_from).transpose()
    }

    async fn find_transaction_by_reference(&self, reference: &str) -> Result<Option<Transaction>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {TRANSACTION} FROM transactions WHERE reference = "
        ));
        qb.push_bind(reference.to_owned());
        let row: Option<TransactionRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Transaction::try_from).transpose()
    }

    async fn list_transactions(&self, f: &TransactionFilter) -> Result<Page<Transaction>> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM transactions");
        push_transaction_filter(&mut count, f);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {TRANSACTION} FROM transactions"));
        push_transaction_filter(&mut qb, f);
        qb.push(" ORDER BY created_at DESC, id DESC");
        push_page(&mut qb, f.page);
        let rows: Vec<TransactionRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter()
                .map(Transaction::try_from)
                .collect::<Result<_>>()?,
            to_total(total),
            f.page,
        ))
    }

    async fn list_payment_methods(
        &self,
        user_id: Uuid,
        page: betflow_domain::PageRequest,
    ) -> Result<Page<PaymentMethod>> {
        let mut count =
            QueryBuilder::<Db>::new("SELECT COUNT(*) FROM payment_methods WHERE user_id = ");
        count.push_bind(user_id);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {PAYMENT_METHOD} FROM payment_methods WHERE user_id = "
        ));
        qb.push_bind(user_id).push(" ORDER BY created_at, id");
        push_page(&mut qb, page);
        let rows: Vec<PaymentMethodRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter()
                .map(PaymentMethod::try_from)
                .collect::<Result<_>>()?,
            to_total(total),
            page,
        ))
    }

    async fn get_payment_method(&self, id: Uuid) -> Result<Option<PaymentMethod>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {PAYMENT_METHOD} FROM payment_methods WHERE id = "
        ));
        qb.push_bind(id);
        let row: Option<PaymentMethodRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(PaymentMethod::try_from).transpose()
    }

    async fn reconcile(&self) -> Result<Vec<AccountCheck>> {
        // Credits minus debits per account, beside the projection's balance.
        let rows: Vec<(Uuid, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT m.owner, m.kind, m.currency, CAST(SUM(m.amount) AS BIGINT), \
                    MAX(a.balance) \
             FROM (SELECT to_owner AS owner, to_kind AS kind, currency, amount \
                   FROM ledger_transfers \
                   UNION ALL \
                   SELECT from_owner, from_kind, currency, -amount FROM ledger_transfers) m \
             LEFT JOIN ledger_accounts a \
               ON a.owner_id = m.owner AND a.kind = m.kind AND a.currency = m.currency \
             GROUP BY m.owner, m.kind, m.currency \
             ORDER BY m.currency, m.kind, m.owner",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(owner, kind, currency, from_transfers, projected)| {
                Ok(AccountCheck {
                    owner,
                    kind: AccountKind::parse(&kind)
                        .ok_or_else(|| corrupt("ledger_transfers", &kind))?,
                    currency,
                    from_transfers,
                    projected,
                })
            })
            .collect()
    }

    async fn get_responsible_gambling(&self, user_id: Uuid) -> Result<Option<ResponsibleGambling>> {
        let mut qb = QueryBuilder::<Db>::new(RG_SELECT);
        qb.push_bind(user_id);
        let row: Option<RgRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(ResponsibleGambling::try_from).transpose()
    }
}

#[async_trait]
impl WalletWrite for BackendTx {
    async fn lock_wallet(&mut self, user_id: Uuid, currency: &str) -> Result<Balances> {
        // The accounts' rows are the customer's lock: every money movement of theirs takes
        // them first. Opened at zero on first use.
        let mut rows = self.wallet_rows(user_id, currency).await?;
        if rows.len() < 3 {
            self.open_accounts(user_id, currency).await?;
            rows = self.wallet_rows(user_id, currency).await?;
        }
        balances(user_id, currency, rows)
    }

    async fn lock_wallet_with_limits(
        &mut self,
        user_id: Uuid,
        currency: &str,
    ) -> Result<(Balances, Option<ResponsibleGambling>)> {
        // The account rows locked as in `lock_wallet`, each joined to the settings, so a bet
        // reads both in one round trip.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT la.kind, la.balance, la.updated_at, rg.user_id, rg.limits, rg.exclusion, \
                    rg.updated_at \
             FROM ledger_accounts la \
             LEFT JOIN responsible_gambling rg ON rg.user_id = la.owner_id \
             WHERE la.owner_id = ",
        );
        qb.push_bind(user_id)
            .push(" AND la.currency = ")
            .push_bind(currency.to_owned())
            .push(" ORDER BY la.kind")
            .push(LOCK_ACCOUNTS);
        let rows = qb.build().fetch_all(&mut *self.tx).await?;
        if rows.len() < 3 {
            // Accounts not opened yet: the long way, once per customer and currency.
            let b = self.lock_wallet(user_id, currency).await?;
            return Ok((b, self.responsible_gambling(user_id).await?));
        }
        let rg = rows.first().map_or(Ok(None), |row| limits_at(row, 3))?;
        let accounts = rows
            .iter()
            .map(|row| -> Result<_> { Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)) });
        let accounts = accounts.collect::<Result<Vec<(String, i64, DateTime<Utc>)>>>()?;
        Ok((balances(user_id, currency, accounts)?, rg))
    }

    async fn lock_accounts(&mut self, wallets: &[(Uuid, String)]) -> Result<()> {
        if BACKEND == Backend::Sqlite {
            // One writer at a time: there are no row locks to take.
            return Ok(());
        }
        let mut wallets = wallets.to_vec();
        wallets.sort_unstable();
        wallets.dedup();
        // Chunks in sorted order keep the whole in the lock order.
        for chunk in wallets.chunks(1000) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT 1 FROM ledger_accounts WHERE (owner_id, currency) IN (",
            );
            let mut list = qb.separated(", ");
            for (owner, currency) in chunk {
                list.push("(")
                    .push_bind_unseparated(*owner)
                    .push_unseparated(", ")
                    .push_bind_unseparated(currency.clone())
                    .push_unseparated(")");
            }
            qb.push(") ORDER BY owner_id, kind, currency")
                .push(FOR_UPDATE);
            qb.build().fetch_all(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn apply_transfers(&mut self, transfers: &[Transfer]) -> Result<()> {
        if transfers.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new("");
        push_transfers_insert(&mut qb, transfers);
        qb.build().execute(&mut *self.tx).await?;
        for t in transfers {
            let at = micros(t.created_at);
            if !t.from.kind.is_house()
                && !t.to.kind.is_house()
                && t.from.owner == t.to.owner
                && self.move_within(t, at).await?
            {
                continue;
            }
            if !t.from.kind.is_house() {
                self.debit(t, at).await?;
            }
            if !t.to.kind.is_house() {
                self.credit(t, at).await?;
            }
        }
        Ok(())
    }

    async fn insert_transaction(&mut self, t: &Transaction) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_transactions_insert(&mut qb, [t]);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_transaction(&mut self, t: &Transaction) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE transactions SET status = ");
        qb.push_bind(t.status.as_str())
            .push(", external_reference = ")
            .push_bind(t.external_reference.clone())
            .push(", processor_response = ")
            .push_bind(t.processor_response.clone().map(Json))
            .push(", fees = ")
            .push_bind(t.fees)
            .push(", processed_at = ")
            .push_bind(t.processed_at.map(micros))
            .push(", updated_at = ")
            .push_bind(micros(t.updated_at))
            .push(" WHERE id = ")
            .push_bind(t.id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_transaction(&mut self, id: Uuid) -> Result<Option<Transaction>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {TRANSACTION} FROM transactions WHERE id = "
        ));
        qb.push_bind(id).push(FOR_UPDATE);
        let row: Option<TransactionRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Transaction::try_from).transpose()
    }

    async fn deposits_since(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<i64> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transactions WHERE user_id = ",
        );
        qb.push_bind(user_id)
            .push(
                " AND type = 'deposit' AND status IN ('pending', 'processing', 'completed') \
                 AND created_at >= ",
            )
            .push_bind(micros(since));
        Ok(qb.build_query_scalar().fetch_one(&mut *self.tx).await?)
    }

    async fn insert_payment_method(&mut self, m: &PaymentMethod) -> Result<()> {
        if m.is_default {
            let mut qb = QueryBuilder::<Db>::new(
                "UPDATE payment_methods SET is_default = FALSE WHERE user_id = ",
            );
            qb.push_bind(m.user_id);
            qb.build().execute(&mut *self.tx).await?;
        }
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO payment_methods ({PAYMENT_METHOD}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(m.id)
            .push_bind(m.user_id)
            .push_bind(m.method_type.as_str())
            .push_bind(m.name.clone())
            .push_bind(Json(m.details.clone()))
            .push_bind(m.is_default)
            .push_bind(m.is_active)
            .push_bind(m.last_used_at.map(micros))
            .push_bind(m.expires_at.map(micros))
            .push_bind(micros(m.created_at))
            .push_bind(micros(m.updated_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn responsible_gambling(&mut self, user_id: Uuid) -> Result<Option<ResponsibleGambling>> {
        let mut qb = QueryBuilder::<Db>::new(RG_SELECT);
        qb.push_bind(user_id).push(FOR_UPDATE);
        let row: Option<RgRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(ResponsibleGambling::try_from).transpose()
    }

    async fn save_responsible_gambling(&mut self, rg: &ResponsibleGambling) -> Result<()> {
        let limits = serde_json::to_value(&rg.limits).map_err(|e| corrupt("limits", e))?;
        let exclusion = rg
            .exclusion
            .map(|e| serde_json::to_value(e).map_err(|e| corrupt("exclusion", e)))
            .transpose()?;
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO responsible_gambling (user_id, limits, exclusion, updated_at) VALUES (",
        );
        qb.push_bind(rg.user_id)
            .push(", ")
            .push_bind(Json(limits))
            .push(", ")
            .push_bind(exclusion.map(Json))
            .push(", ")
            .push_bind(micros(rg.updated_at))
            .push(
                ") ON CONFLICT (user_id) DO UPDATE SET limits = excluded.limits, \
                 exclusion = excluded.exclusion, updated_at = excluded.updated_at",
            );
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn claim_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyClaim> {
        let now = micros(now);
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, locked_at) \
             VALUES (",
        );
        qb.push_bind(user_id)
            .push(", ")
            .push_bind(key.to_owned())
            .push(", ")
            .push_bind(hash.to_owned())
            .push(", ")
            .push_bind(now)
            .push(", ")
            .push_bind(now)
            .push(") ON CONFLICT (user_id, key) DO NOTHING");
        if qb.build().execute(&mut *self.tx).await?.rows_affected() == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT request_hash, status_code, response, locked_at FROM idempotency_keys \
             WHERE user_id = ",
        );
        qb.push_bind(user_id)
            .push(" AND key = ")
            .push_bind(key.to_owned())
            .push(FOR_UPDATE);
        let (stored_hash, status, response, locked_at): (
            String,
            Option<i32>,
            Option<Json<Value>>,
            DateTime<Utc>,
        ) = qb.build_query_as().fetch_one(&mut *self.tx).await?;
        if stored_hash != hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        if let (Some(status), Some(body)) = (status, response) {
            return Ok(IdempotencyClaim::Done(outcome_from_row(status, body.0)?));
        }
        if locked_at >= micros(stale_before) {
            return Ok(IdempotencyClaim::InFlight);
        }
        // Its request died without committing: take the key over.
        let mut qb = QueryBuilder::<Db>::new("UPDATE idempotency_keys SET locked_at = ");
        qb.push_bind(now)
            .push(" WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND key = ")
            .push_bind(key.to_owned());
        qb.build().execute(&mut *self.tx).await?;
        Ok(IdempotencyClaim::Claimed)
    }

    async fn complete_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        outcome: &Outcome,
    ) -> Result<()> {
        let (status, body) = outcome_row(outcome);
        let mut qb = QueryBuilder::<Db>::new("UPDATE idempotency_keys SET status_code = ");
        qb.push_bind(status)
            .push(", response = ")
            .push_bind(Json(body))
            .push(" WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND key = ")
            .push_bind(key.to_owned());
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn prune_idempotency_keys(&mut self, before: DateTime<Utc>) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM idempotency_keys WHERE created_at < ");
        qb.push_bind(micros(before));
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected())
    }

    async fn release_idempotency(&mut self, user_id: Uuid, key: &str) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM idempotency_keys WHERE user_id = ");
        qb.push_bind(user_id)
            .push(" AND key = ")
            .push_bind(key.to_owned())
            .push(" AND status_code IS NULL");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}

/// An idempotent outcome as its row keeps it: `status_code` is the status of the first
/// answer (201 for a creation; a refusal's status by its kind), `response` `{"data": ...}`
/// or `{"error": {code, message, details}}`. The columns predate typed outcomes, and rows
/// written either way read back the same.
fn outcome_row(outcome: &Outcome) -> (i32, Value) {
    match outcome {
        Outcome::Created(data) => (201, serde_json::json!({ "data": data })),
        Outcome::Refused {
            kind,
            code,
            message,
            details,
        } => (
            match kind {
                RefusalKind::Invalid => 400,
                RefusalKind::Unauthenticated => 401,
                RefusalKind::Forbidden => 403,
                RefusalKind::NotFound => 404,
                RefusalKind::Conflict => 409,
                RefusalKind::Unprocessable => 422,
            },
            serde_json::json!({"error": {"code": code, "message": message, "details": details}}),
        ),
    }
}

/// The outcome a row keeps (see [`outcome_row`]).
fn outcome_from_row(status: i32, body: Value) -> Result<Outcome> {
    let kind = match status {
        201 => {
            let data = body.get("data").cloned().unwrap_or(Value::Null);
            return Ok(Outcome::Created(data));
        }
        400 => RefusalKind::Invalid,
        401 => RefusalKind::Unauthenticated,
        403 => RefusalKind::Forbidden,
        404 => RefusalKind::NotFound,
        409 => RefusalKind::Conflict,
        422 => RefusalKind::Unprocessable,
        other => {
            return Err(corrupt(
                "idempotency_keys",
                format!("status_code {other} is no outcome"),
            ));
        }
    };
    let error = body.get("error").cloned().unwrap_or(Value::Null);
    let text = |field: &str| {
        error
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| corrupt("idempotency_keys", format!("response error.{field}")))
    };
    Ok(Outcome::Refused {
        kind,
        code: text("code")?,
        message: text("message")?,
        details: error.get("details").cloned().filter(|d| !d.is_null()),
    })
}

impl BackendTx {
    async fn wallet_rows(
        &mut self,
        user_id: Uuid,
        currency: &str,
    ) -> Result<Vec<(String, i64, DateTime<Utc>)>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT kind, balance, updated_at FROM ledger_accounts WHERE owner_id = ",
        );
        qb.push_bind(user_id)
            .push(" AND currency = ")
            .push_bind(currency.to_owned())
            .push(" ORDER BY kind")
            .push(FOR_UPDATE);
        Ok(qb.build_query_as().fetch_all(&mut *self.tx).await?)
    }
}

impl BackendTx {
    /// Opens a customer's cash, bonus and pending accounts in `currency` at zero.
    async fn open_accounts(&mut self, user_id: Uuid, currency: &str) -> Result<()> {
        let t = micros(Utc::now());
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO ledger_accounts (owner_id, kind, currency, balance, updated_at) ",
        );
        // In key order (bonus, cash, pending): a concurrent opening of the same accounts
        // waits on the same first row instead of holding another.
        let mut kinds = [AccountKind::Cash, AccountKind::Bonus, AccountKind::Pending];
        kinds.sort_unstable_by_key(|k| k.as_str());
        qb.push_values(kinds, |mut b, kind| {
            b.push_bind(user_id)
                .push_bind(kind.as_str())
                .push_bind(currency.to_owned())
                .push_bind(0i64)
                .push_bind(t);
        });
        qb.push(" ON CONFLICT (owner_id, kind, currency) DO NOTHING");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Moves money between two accounts of one customer in one statement (a stake held,
    /// a withdrawal reserved). `false` when the receiving account has no row yet (the caller
    /// then debits and credits separately); nothing is written then.
    async fn move_within(&mut self, t: &Transfer, at: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_move_within(&mut qb, t, at);
        let kinds: Vec<String> = qb.build_query_scalar().fetch_all(&mut *self.tx).await?;
        moved_within(t, &kinds)
    }

    pub(super) async fn debit(&mut self, t: &Transfer, at: DateTime<Utc>) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE ledger_accounts SET balance = balance - ");
        qb.push_bind(t.amount)
            .push(", updated_at = ")
            .push_bind(at)
            .push(" WHERE owner_id = ")
            .push_bind(t.from.owner)
            .push(" AND kind = ")
            .push_bind(t.from.kind.as_str())
            .push(" AND currency = ")
            .push_bind(t.from.currency.clone())
            .push(" AND balance >= ")
            .push_bind(t.amount);
        if qb.build().execute(&mut *self.tx).await?.rows_affected() == 0 {
            return Err(StoreError::InsufficientFunds {
                owner: t.from.owner,
                kind: t.from.kind.as_str(),
            });
        }
        Ok(())
    }

    pub(super) async fn credit(&mut self, t: &Transfer, at: DateTime<Utc>) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO ledger_accounts (owner_id, kind, currency, balance, updated_at) VALUES (",
        );
        qb.push_bind(t.to.owner)
            .push(", ")
            .push_bind(t.to.kind.as_str())
            .push(", ")
            .push_bind(t.to.currency.clone())
            .push(", ")
            .push_bind(t.amount)
            .push(", ")
            .push_bind(at)
            .push(
                ") ON CONFLICT (owner_id, kind, currency) DO UPDATE SET \
                 balance = ledger_accounts.balance + excluded.balance, \
                 updated_at = excluded.updated_at",
            );
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}

/// `INSERT INTO ledger_transfers ... VALUES ...` for `transfers`, appended to `qb`.
pub(super) fn push_transfers_insert(qb: &mut QueryBuilder<Db>, transfers: &[Transfer]) {
    qb.push(
        "INSERT INTO ledger_transfers (id, from_owner, from_kind, to_owner, to_kind, \
         currency, amount, kind, transaction_id, bet_id, created_at) ",
    );
    qb.push_values(transfers, |mut b, t| {
        b.push_bind(t.id)
            .push_bind(t.from.owner)
            .push_bind(t.from.kind.as_str())
            .push_bind(t.to.owner)
            .push_bind(t.to.kind.as_str())
            .push_bind(t.from.currency.clone())
            .push_bind(t.amount)
            .push_bind(t.kind.as_str())
            .push_bind(t.transaction_id)
            .push_bind(t.bet_id)
            .push_bind(micros(t.created_at));
    });
}

/// `INSERT INTO transactions ... VALUES (...), ...` for `txs`, appended to `qb`.
pub(super) fn push_transactions_insert<'t>(
    qb: &mut QueryBuilder<Db>,
    txs: impl IntoIterator<Item = &'t Transaction>,
) {
    qb.push(
        "INSERT INTO transactions (id, user_id, type, amount, currency_code, status, \
         reference, external_reference, description, payment_method_id, related_bet_id, \
         processor_response, fees, processed_at, created_at, updated_at) ",
    );
    qb.push_values(txs, |mut v, t| {
        v.push_bind(t.id)
            .push_bind(t.user_id)
            .push_bind(t.tx_type.as_str())
            .push_bind(t.amount)
            .push_bind(t.currency_code.clone())
            .push_bind(t.status.as_str())
            .push_bind(t.reference.clone())
            .push_bind(t.external_reference.clone())
            .push_bind(t.description.clone())
            .push_bind(t.payment_method_id)
            .push_bind(t.related_bet_id)
            .push_bind(t.processor_response.clone().map(Json))
            .push_bind(t.fees)
            .push_bind(t.processed_at.map(micros))
            .push_bind(micros(t.created_at))
            .push_bind(micros(t.updated_at));
    });
}

/// The one-statement move between two accounts of one customer (see `move_within`),
/// appended to `qb`; it returns the kinds of the rows it changed.
pub(super) fn push_move_within(qb: &mut QueryBuilder<Db>, t: &Transfer, at: DateTime<Utc>) {
    qb.push("UPDATE ledger_accounts SET balance = balance + CASE kind WHEN ")
        .push_bind(t.from.kind.as_str())
        .push(" THEN -")
        .push_bind(t.amount)
        .push(" ELSE ")
        .push_bind(t.amount)
        .push(" END, updated_at = ")
        .push_bind(at)
        .push(" WHERE owner_id = ")
        .push_bind(t.from.owner)
        .push(" AND currency = ")
        .push_bind(t.from.currency.clone())
        .push(" AND (kind = ")
        .push_bind(t.to.kind.as_str())
        .push(" OR (kind = ")
        .push_bind(t.from.kind.as_str())
        .push(" AND balance >= ")
        .push_bind(t.amount)
        .push(")) AND EXISTS (SELECT 1 FROM ledger_accounts r WHERE r.owner_id = ")
        .push_bind(t.to.owner)
        .push(" AND r.currency = ")
        .push_bind(t.to.currency.clone())
        .push(" AND r.kind = ")
        .push_bind(t.to.kind.as_str())
        .push(") RETURNING kind");
}

/// Reads what `push_move_within` changed: `false` when the receiving account has no row
/// (nothing was written), an error when the debit could not be covered (only the credit
/// applied; the caller's transaction is rolled back on this error).
pub(super) fn moved_within(t: &Transfer, kinds: &[String]) -> Result<bool> {
    if kinds.is_empty() {
        return Ok(false);
    }
    if !kinds.iter().any(|k| k == t.from.kind.as_str()) {
        return Err(StoreError::InsufficientFunds {
            owner: t.from.owner,
            kind: t.from.kind.as_str(),
        });
    }
    Ok(true)
}
