//! The in-process event hub that SSE streams, sockets, the relay and the worker listen to.
//!
//! A leaf module: the services that write events (workflows, webhooks) wake the relay
//! through it, and the relay ([`crate::realtime`]) feeds it. Delivery to listeners is at
//! least once; clients use the event id to drop repeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use betflow_domain::events::Event;
use tokio::sync::{Notify, broadcast};

/// Events a slow hub subscriber may fall behind before it misses some (it is told, and an SSE
/// client resumes from the outbox).
const HUB_CAPACITY: usize = 4096;

/// Fans events out to this process's listeners.
pub struct EventHub {
    tx: broadcast::Sender<Arc<Event>>,
    published: AtomicU64,
    /// Woken after a transaction that wrote events commits, so the relay need not wait for
    /// its next poll.
    pub(crate) written: Notify,
    /// Woken when jobs due now were queued (webhook deliveries), so the worker runs them.
    pub(crate) jobs: Notify,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(HUB_CAPACITY).0,
            published: AtomicU64::new(0),
            written: Notify::new(),
            jobs: Notify::new(),
        }
    }
}

impl EventHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    pub fn publish(&self, event: Arc<Event>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        // No listener is not an error: the event is in the outbox.
        let _ = self.tx.send(event);
    }

    /// Events this process has handed to its listeners.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    pub(crate) fn notify_written(&self) {
        self.written.notify_one();
    }

    pub(crate) fn notify_jobs(&self) {
        self.jobs.notify_one();
    }
}
