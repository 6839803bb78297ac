//! The real-time side of the outbox: the relay that reads it in order and feeds the hub
//! that SSE streams and sockets listen to, and who may see which event.
//!
//! With Redis, the relay publishes each event on [`EVENTS_CHANNEL`] and every node (its own
//! included) feeds its hub from that subscription, so an event reaches sockets on every node.
//! Without Redis (one node) the relay feeds the local hub directly. Delivery is at least once:
//! a relay that dies after publishing and before moving its cursor publishes again, and
//! clients use the event id to drop repeats.

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::events::Event;
use betflow_store::Store;
use betflow_store::redis::RedisHandle;
use tokio::sync::watch;

use crate::EngineError;
use crate::events::EventHub;
use crate::identity::Principal;
use crate::triggers::Triggers;
use crate::webhooks::Webhooks;

/// The Redis channel events travel on between nodes.
pub const EVENTS_CHANNEL: &str = "betflow:events";
/// Events read from the outbox per relay round.
pub const RELAY_BATCH: u32 = 500;
/// How long a woken relay waits for more commits before its round.
const RELAY_COALESCE: Duration = Duration::from_millis(5);

/// The outbox relay and the hub it feeds.
pub struct Realtime {
    store: Arc<dyn Store>,
    redis: Option<Arc<RedisHandle>>,
    hub: Arc<EventHub>,
    /// The relay queues each event's webhook deliveries in the transaction that moves its
    /// cursor.
    webhooks: Arc<Webhooks>,
    /// The relay queues each event's automation runs (matching subscriptions) in the same
    /// transaction.
    triggers: Arc<Triggers>,
    /// Feeds `hub` from Redis, on every node, when Redis is configured.
    subscriber: Option<tokio::task::JoinHandle<()>>,
}

impl Realtime {
    /// With Redis, starts feeding `hub` from [`EVENTS_CHANNEL`] at once.
    pub fn new(
        store: Arc<dyn Store>,
        redis: Option<Arc<RedisHandle>>,
        hub: Arc<EventHub>,
        webhooks: Arc<Webhooks>,
        triggers: Arc<Triggers>,
    ) -> Self {
        let subscriber = redis
            .as_ref()
            .map(|r| spawn_event_subscriber(r, hub.clone()));
        Self {
            store,
            redis,
            hub,
            webhooks,
            triggers,
            subscriber,
        }
    }

    /// This process's listeners subscribe here.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// One relay round: number new events, then publish those after the relay's cursor and
    /// move it, holding the cursor's lock so relays on several nodes take turns. Returns how
    /// many events were published.
    pub async fn relay_once(&self) -> Result<usize, EngineError> {
        self.store.sequence_events(RELAY_BATCH).await?;
        // Read through the pool before the transaction: its holder must not wait for a
        // second connection.
        let hooks = self.webhooks.active().await?;
        let subscriptions = self.triggers.active_subscriptions().await?;
        let mut tx = self.store.begin().await?;
        let cursor = tx.lock_relay_cursor().await?;
        let events = tx.events_after_in_tx(cursor, RELAY_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            tx.rollback().await?;
            return Ok(0);
        };
        let deliveries = self
            .webhooks
            .queue_deliveries(&mut tx, &hooks, &events)
            .await?;
        let starts = self
            .triggers
            .queue_starts(&mut tx, &subscriptions, &events)
            .await?;
        match &self.redis {
            Some(redis) => publish_redis(redis, &events).await?,
            None => {
                for e in &events {
                    self.hub.publish(Arc::new(e.clone()));
                }
            }
        }
        tx.set_relay_cursor(last).await?;
        tx.commit().await?;
        if deliveries + starts > 0 {
            self.hub.notify_jobs();
        }
        Ok(events.len())
    }

    /// Numbered events after `seq`, oldest first: what a reconnecting client missed.
    pub async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<Event>, EngineError> {
        Ok(self.store.events_after(seq, limit).await?)
    }

    /// The newest numbered event: where a new live stream starts.
    pub async fn last_event_seq(&self) -> Result<i64, EngineError> {
        Ok(self.store.last_event_seq().await?)
    }

    /// Whether `principal` may receive `event`: workflow and task events need
    /// `workflows:read`; anything about webhook endpoints needs `webhooks:manage`.
    pub fn may_see(principal: &Principal, event: &Event) -> bool {
        if event.event_type.starts_with("endpoint.") {
            principal.has("webhooks:manage")
        } else {
            principal.has("workflows:read")
        }
    }

    /// Runs the relay until `stop`: a round whenever events were written here, or every
    /// `poll` (events written by other nodes).
    pub fn spawn_relay(
        self: &Arc<Self>,
        poll: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let relay = self.clone();
        tokio::spawn(async move {
            let hub = relay.hub.clone();
            loop {
                if *stop.borrow() {
                    break;
                }
                let round_started = tokio::time::Instant::now();
                let sent = match relay.relay_once().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "event relay round failed");
                        0
                    }
                };
                if sent < RELAY_BATCH as usize {
                    tokio::select! {
                        _ = hub.written.notified() => {
                            // Rounds at most every RELAY_COALESCE: under load the commits of
                            // that moment share one round (a round per commit would double
                            // the write transactions); a lone event is relayed at once.
                            tokio::time::sleep_until(round_started + RELAY_COALESCE).await;
                        }
                        _ = tokio::time::sleep(poll) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        })
    }

    /// Stops feeding the hub from Redis.
    pub(crate) fn stop(&self) {
        if let Some(s) = &self.subscriber {
            s.abort();
        }
    }
}

impl Drop for Realtime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// With Redis, feeds this node's hub from [`EVENTS_CHANNEL`].
fn spawn_event_subscriber(redis: &RedisHandle, hub: Arc<EventHub>) -> tokio::task::JoinHandle<()> {
    redis.spawn_subscriber(EVENTS_CHANNEL, move |payload| {
        if payload == "*" {
            return;
        }
        match serde_json::from_str::<Event>(payload) {
            Ok(e) => hub.publish(Arc::new(e)),
            Err(e) => tracing::warn!(error = %e, "malformed event on the events channel"),
        }
    })
}

async fn publish_redis(redis: &RedisHandle, events: &[Event]) -> Result<(), EngineError> {
    for e in events {
        let json = serde_json::to_string(e).map_err(|e| EngineError::Internal(e.to_string()))?;
        redis
            .publish(EVENTS_CHANNEL, &json, Duration::from_secs(2))
            .await?;
    }
    Ok(())
}
