//! Audit trail and system events, compiled once per backend (see the crate docs).
//! `super` is the backend module; it provides `Db` and the dialect constants.

use std::net::IpAddr;

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::audit::{
    AuditAction, AuditEntry, AuditQuery, Severity, SystemEvent, SystemEventQuery,
};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::{BackendStore, BackendTx, Db, IP_CAST, IP_SELECT, WRITE_CTE};
use crate::{AuditRead, AuditWrite, Result, StoreError};

#[derive(FromRow)]
struct AuditRow {
    id: Uuid,
    table_name: String,
    record_id: Uuid,
    action: String,
    old_values: Option<Json<Value>>,
    new_values: Option<Json<Value>>,
    user_id: Option<Uuid>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    timestamp: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditEntry {
            id: r.id,
            table_name: r.table_name,
            record_id: r.record_id,
            action: r
                .action
                .parse::<AuditAction>()
                .map_err(|e| corrupt("audit_log", e))?,
            old_values: r.old_values.map(|j| j.0),
            new_values: r.new_values.map(|j| j.0),
            user_id: r.user_id,
            ip_address: parse_ip("audit_log", r.ip_address)?,
            user_agent: r.user_agent,
            timestamp: r.timestamp,
        })
    }
}

#[derive(FromRow)]
struct SystemEventRow {
    id: Uuid,
    event_type: String,
    severity: String,
    message: String,
    details: Option<Json<Value>>,
    user_id: Option<Uuid>,
    session_id: Option<String>,
    ip_address: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<SystemEventRow> for SystemEvent {
    type Error = StoreError;
    fn try_from(r: SystemEventRow) -> Result<Self> {
        Ok(SystemEvent {
            id: r.id,
            event_type: r.event_type,
            severity: r
                .severity
                .parse::<Severity>()
                .map_err(|e| corrupt("system_events", e))?,
            message: r.message,
            details: r.details.map(|j| j.0),
            user_id: r.user_id,
            session_id: r.session_id,
            ip_address: parse_ip("system_events", r.ip_address)?,
            created_at: r.created_at,
        })
    }
}

pub(super) fn corrupt(table: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: e.to_string(),
    }
}

pub(super) fn parse_ip(table: &'static str, ip: Option<String>) -> Result<Option<IpAddr>> {
    ip.map(|s| s.parse::<IpAddr>().map_err(|e| corrupt(table, e)))
        .transpose()
}

fn audit_columns() -> String {
    format!(
        "id, table_name, record_id, action, old_values, new_values, user_id, {IP_SELECT}, \
         user_agent, timestamp"
    )
}

fn push_audit_filters(qb: &mut QueryBuilder<Db>, q: &AuditQuery) {
    qb.push(" WHERE 1=1");
    if let Some(t) = &q.table_name {
        qb.push(" AND table_name = ").push_bind(t.clone());
    }
    if let Some(r) = q.record_id {
        qb.push(" AND record_id = ").push_bind(r);
    }
    if let Some(u) = q.user_id {
        qb.push(" AND user_id = ").push_bind(u);
    }
    if let Some(a) = q.action {
        qb.push(" AND action = ").push_bind(a.as_str());
    }
    if let Some(from) = q.from {
        qb.push(" AND timestamp >= ").push_bind(micros(from));
    }
    if let Some(until) = q.until {
        qb.push(" AND timestamp < ").push_bind(micros(until));
    }
}

fn push_event_filters(qb: &mut QueryBuilder<Db>, q: &SystemEventQuery) {
    qb.push(" WHERE 1=1");
    if let Some(t) = &q.event_type {
        qb.push(" AND event_type = ").push_bind(t.clone());
    }
    if q.min_severity.is_some() {
        qb.push(" AND severity IN (");
        let mut list = qb.separated(", ");
        for s in q.severities() {
            list.push_bind(s.as_str());
        }
        qb.push(")");
    }
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(micros(from));
    }
    if let Some(until) = q.until {
        qb.push(" AND created_at < ").push_bind(micros(until));
    }
}

pub(super) fn push_page(qb: &mut QueryBuilder<Db>, page: betflow_domain::PageRequest) {
    qb.push(" LIMIT ")
        .push_bind(i64::from(page.limit()))
        .push(" OFFSET ")
        .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
}

/// The separator before the next part of a write sent in one round trip: the opening of
/// the next data-modifying CTE (`cte`, such as `"), j AS ("`) on PostgreSQL, the next
/// statement of the batch on SQLite.
pub(super) fn part(cte: &'static str) -> &'static str {
    if WRITE_CTE { cte } else { "; " }
}

/// `INSERT INTO audit_log ... VALUES (...), ...` for `entries`, appended to `qb` (alone, or
/// as one part of a larger statement).
pub(super) fn push_audits_insert<'e>(
    qb: &mut QueryBuilder<Db>,
    entries: impl IntoIterator<Item = &'e AuditEntry>,
) {
    qb.push(
        "INSERT INTO audit_log (id, table_name, record_id, action, old_values, new_values, \
         user_id, ip_address, user_agent, timestamp) ",
    );
    qb.push_values(entries, |mut v, e| {
        v.push_bind(e.id)
            .push_bind(e.table_name.clone())
            .push_bind(e.record_id)
            .push_bind(e.action.as_str())
            .push_bind(e.old_values.clone().map(Json))
            .push_bind(e.new_values.clone().map(Json))
            .push_bind(e.user_id)
            .push_bind(e.ip_address.map(|ip| ip.to_string()))
            .push_unseparated(IP_CAST)
            .push_bind(e.user_agent.clone())
            .push_bind(micros(e.timestamp));
    });
}

/// Both backends store microseconds, so SQLite's text timestamps compare exactly as
/// PostgreSQL's do and a value reads back equal to what was written.
pub(super) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub(super) fn to_total(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl AuditRead for BackendStore {
    async fn get_audit_entry(&self, id: Uuid) -> Result<Option<AuditEntry>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM audit_log WHERE id = ",
            audit_columns()
        ));
        qb.push_bind(id);
        let row: Option<AuditRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(AuditEntry::try_from).transpose()
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM audit_log");
        push_audit_filters(&mut count, q);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;

        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {} FROM audit_log", audit_columns()));
        push_audit_filters(&mut qb, q);
        qb.push(" ORDER BY timestamp DESC, id DESC");
        push_page(&mut qb, q.page);
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::new(items, to_total(total), q.page))
    }

    async fn query_system_events(&self, q: &SystemEventQuery) -> Result<Page<SystemEvent>> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM system_events");
        push_event_filters(&mut count, q);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;

        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT id, event_type, severity, message, details, user_id, session_id, \
             {IP_SELECT}, created_at FROM system_events"
        ));
        push_event_filters(&mut qb, q);
        qb.push(" ORDER BY created_at DESC, id DESC");
        push_page(&mut qb, q.page);
        let rows: Vec<SystemEventRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(SystemEvent::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::new(items, to_total(total), q.page))
    }
}

#[async_trait]
impl AuditWrite for BackendTx {
    async fn insert_audit(&mut self, e: &AuditEntry) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_audits_insert(&mut qb, [e]);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_system_event(&mut self, e: &SystemEvent) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO system_events (id, event_type, severity, message, details, user_id, \
             session_id, ip_address, created_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(e.id)
            .push_bind(e.event_type.clone())
            .push_bind(e.severity.as_str())
            .push_bind(e.message.clone())
            .push_bind(e.details.clone().map(Json))
            .push_bind(e.user_id)
            .push_bind(e.session_id.clone())
            .push_bind(e.ip_address.map(|ip| ip.to_string()))
            .push_unseparated(IP_CAST)
            .push_bind(micros(e.created_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn prune_audit(&mut self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        prune(self, "audit_log", "timestamp", before, limit).await
    }

    async fn prune_system_events(&mut self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        prune(self, "system_events", "created_at", before, limit).await
    }
}

/// Deletes the oldest rows of `table` (up to `limit`) whose `column` is before `before`.
async fn prune(
    tx: &mut BackendTx,
    table: &'static str,
    column: &'static str,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<u64> {
    let mut qb = QueryBuilder::<Db>::new(format!(
        "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < "
    ));
    qb.push_bind(micros(before))
        .push(format!(" ORDER BY {column} LIMIT "))
        .push_bind(i64::from(limit))
        .push(")");
    Ok(qb.build().execute(&mut *tx.tx).await?.rows_affected())
}
