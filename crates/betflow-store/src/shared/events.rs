//! The outbox of domain events, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::events::{Address, Event, NewEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::micros;
use super::{BACKEND, BackendStore, BackendTx, Db, FOR_UPDATE};
use crate::{Backend, EventRead, EventWrite, Result};

/// Arbitrary, fixed: the advisory lock that makes PostgreSQL sequencers take turns.
const SEQUENCER_LOCK: i64 = 0x6265_7466_6c6f_7701;

const COLUMNS: &str = "id, seq, event_type, audience, payload, created_at FROM outbox_events";

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    seq: Option<i64>,
    event_type: String,
    /// The addresses' string forms, in order (migration 0013).
    audience: Json<Vec<Address>>,
    payload: Json<Value>,
    created_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: r.id,
            seq: r.seq.unwrap_or(0),
            event_type: r.event_type,
            to: r.audience.0,
            timestamp: r.created_at,
            data: r.payload.0,
        }
    }
}

fn after_query(seq: i64, limit: u32) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} WHERE seq > "));
    qb.push_bind(seq)
        .push(" ORDER BY seq LIMIT ")
        .push_bind(i64::from(limit));
    qb
}

#[async_trait]
impl EventRead for BackendStore {
    async fn sequence_events(&self, limit: u32) -> Result<u64> {
        if BACKEND != Backend::Postgres {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .execute(&mut *tx)
            .await?;
        // nextval runs in the subquery's order, so seq follows creation order within a batch.
        let mut qb = QueryBuilder::<Db>::new(
            "UPDATE outbox_events SET seq = s.n FROM (SELECT id, nextval('outbox_events_seq') AS n \
             FROM (SELECT id FROM outbox_events WHERE seq IS NULL ORDER BY created_at, id LIMIT ",
        );
        qb.push_bind(i64::from(limit))
            .push(") q) s WHERE outbox_events.id = s.id");
        let done = qb.build().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(done)
    }

    async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = after_query(seq, limit)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    async fn last_event_seq(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM outbox_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

#[async_trait]
impl EventWrite for BackendTx {
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new("");
        push_events_insert(&mut qb, events);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_relay_cursor(&mut self) -> Result<i64> {
        let mut qb = QueryBuilder::<Db>::new("SELECT seq FROM relay_cursors WHERE name = 'relay'");
        qb.push(FOR_UPDATE);
        let seq: i64 = qb.build_query_scalar().fetch_one(&mut *self.tx).await?;
        Ok(seq)
    }

    async fn set_relay_cursor(&mut self, seq: i64) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE relay_cursors SET seq = ");
        qb.push_bind(seq).push(" WHERE name = 'relay'");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn events_after_in_tx(&mut self, seq: i64, limit: u32) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = after_query(seq, limit)
            .build_query_as()
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }
}

/// `INSERT INTO outbox_events ... VALUES ...`, appended to `qb`; numbered after `base` when
/// given (SQLite), else left for the sequencer (PostgreSQL).
pub(super) fn push_events_insert(qb: &mut QueryBuilder<Db>, events: &[NewEvent]) {
    const INSERT: &str =
        "INSERT INTO outbox_events (id, seq, event_type, audience, payload, created_at) ";
    if BACKEND == Backend::Postgres {
        // seq stays NULL for the sequencer.
        qb.push(INSERT);
        qb.push_values(events, |mut v, e| {
            v.push_bind(e.id).push("NULL");
            push_event_fields(&mut v, e);
        });
        return;
    }
    // SQLite's single writer commits in lock order, so numbering at insert is safe there:
    // one statement per event, each taking the next number after the last one written.
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            qb.push("; ");
        }
        qb.push(INSERT).push("VALUES (");
        let mut v = qb.separated(", ");
        v.push_bind(e.id)
            .push("(SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_events)");
        push_event_fields(&mut v, e);
        qb.push(")");
    }
}

/// An event's columns after `id` and `seq`.
fn push_event_fields<Sep: std::fmt::Display>(
    v: &mut sqlx::query_builder::Separated<'_, Db, Sep>,
    e: &NewEvent,
) {
    v.push_bind(e.event_type.clone())
        .push_bind(Json(e.to.clone()))
        .push_bind(Json(e.payload.clone()))
        .push_bind(micros(e.created_at));
}
