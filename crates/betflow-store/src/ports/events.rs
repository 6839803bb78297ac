//! The outbox and the relay's cursor.

use async_trait::async_trait;
use betflow_domain::events::{Event, NewEvent};

use crate::Result;

/// Reading the outbox.
#[async_trait]
pub trait EventRead {
    /// Gives the oldest unnumbered events their `seq` (PostgreSQL; one sequencer at a time, so
    /// numbers follow visibility). Returns how many were numbered; always 0 on SQLite, which
    /// numbers at insert.
    async fn sequence_events(&self, limit: u32) -> Result<u64>;
    /// Up to `limit` numbered events after `seq`, in order: SSE resume.
    async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<Event>>;
    /// The newest numbered event's `seq`, 0 when there is none.
    async fn last_event_seq(&self) -> Result<i64>;
}

/// Writing the outbox, and the relay's cursor, inside a transaction.
#[async_trait]
pub trait EventWrite {
    /// Appends events in order.
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<()>;
    /// Locks the relay's cursor (relays in several processes take turns) and returns it.
    async fn lock_relay_cursor(&mut self) -> Result<i64>;
    async fn set_relay_cursor(&mut self, seq: i64) -> Result<()>;
    /// As [`EventRead::events_after`], inside this transaction.
    async fn events_after_in_tx(&mut self, seq: i64, limit: u32) -> Result<Vec<Event>>;
}
