//! Requests that share a transaction. Requests that arrive while earlier ones are being
//! written wait in a queue; a runner task takes up to [`BatchSettings::max`] of them and
//! hands them to its [`Work`], which decides and writes them in one transaction.
//!
//! Why: on PostgreSQL most of a small transaction's cost is per statement and per commit
//! (executor start-up, constraint checks, the WAL flush, round trips), not per row; on
//! SQLite each transaction costs the writer's thread a few hops. Sharing both across the
//! requests that queue up anyway under load is how bet placement and approval decisions
//! get past one-transaction-per-request rates (measurements in docs/benchmarks.md). Under
//! light load a request finds the queue empty and is its own batch of one.
//!
//! A request the work cannot decide in a batch goes back to its caller as
//! [`Outcome::Alone`], and the caller runs it in its own transaction as before.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use betflow_store::Backend;
use tokio::sync::oneshot;

use crate::EngineError;

/// How requests are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// The most requests one transaction takes; 1 runs every request in its own.
    pub max: usize,
    /// How many batches may be in flight at once (on PostgreSQL, connections they hold);
    /// 0 picks per backend: one on SQLite, whose single writer runs one transaction at a
    /// time anyway (one beat two and four there), four on PostgreSQL (two to eight measured
    /// the same within the noise on two cores).
    pub concurrent: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max: 32,
            concurrent: 0,
        }
    }
}

impl BatchSettings {
    fn runners(&self, backend: Backend) -> usize {
        match (self.concurrent, backend) {
            (0, Backend::Sqlite) => 1,
            (0, Backend::Postgres) => 4,
            (n, _) => n,
        }
    }
}

/// What a batcher has done since the process started, for `/metrics`: how well requests
/// batch, and how many fall back to a transaction of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batches run (a batch of one included).
    pub batches: u64,
    /// Requests decided in a batch: written, refused, or failed with the batch's commit.
    pub batched: u64,
    /// Requests handed back to run alone.
    pub alone: u64,
}

/// What became of a request.
pub(crate) enum Outcome<T> {
    /// Decided by the batch: written, refused with a client error, or the commit failed.
    Done(T),
    /// Not decided here: the caller runs the request in its own transaction.
    Alone,
}

/// Decides and writes a batch of requests in one transaction.
pub(crate) trait Work: Send + Sync + 'static {
    type Request: Send + 'static;
    type Answer: Send + 'static;

    /// One outcome per request, in order.
    fn run(
        &self,
        batch: &[Self::Request],
    ) -> impl Future<Output = Vec<Outcome<Self::Answer>>> + Send;
}

struct Queued<W: Work> {
    req: W::Request,
    reply: oneshot::Sender<Outcome<W::Answer>>,
}

struct Queue<W: Work> {
    waiting: VecDeque<Queued<W>>,
    /// Runners alive; each takes batches until the queue is empty.
    running: usize,
}

pub(crate) struct Batcher<W: Work> {
    work: W,
    max: usize,
    /// The most runners at once.
    runners: usize,
    queue: Mutex<Queue<W>>,
    batches: AtomicU64,
    batched: AtomicU64,
    alone: AtomicU64,
}

impl<W: Work> Batcher<W> {
    pub(crate) fn new(work: W, settings: BatchSettings, backend: Backend) -> Self {
        Self {
            work,
            max: settings.max,
            runners: settings.runners(backend),
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            }),
            batches: AtomicU64::new(0),
            batched: AtomicU64::new(0),
            alone: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> BatchStats {
        BatchStats {
            batches: self.batches.load(Ordering::Relaxed),
            batched: self.batched.load(Ordering::Relaxed),
            alone: self.alone.load(Ordering::Relaxed),
        }
    }

    /// Queues the request and waits for its batch. The batch runs in its own task, so a
    /// request that goes away (a client that hangs up) cannot cut a batch off between its
    /// commit and the answers to the others.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        req: W::Request,
    ) -> Result<Outcome<W::Answer>, EngineError> {
        if self.max < 2 {
            self.alone.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::Alone);
        }
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.waiting.push_back(Queued { req, reply });
            let start = q.running < self.runners;
            if start {
                q.running += 1;
            }
            start
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        answer
            .await
            .map_err(|_| EngineError::Internal("a batch stopped before it answered".into()))
    }

    /// Takes batches until the queue is empty.
    async fn run(self: Arc<Self>) {
        let _guard = Runner(self.clone());
        loop {
            let batch: Vec<Queued<W>> = {
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if q.waiting.is_empty() {
                    q.running -= 1;
                    return;
                }
                let n = q.waiting.len().min(self.max);
                q.waiting.drain(..n).collect()
            };
            let (reqs, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|q| (q.req, q.reply)).unzip();
            let outcomes = self.work.run(&reqs).await;
            let alone = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Alone))
                .count() as u64;
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.alone.fetch_add(alone, Ordering::Relaxed);
            self.batched
                .fetch_add(outcomes.len() as u64 - alone, Ordering::Relaxed);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A request that went away no longer needs its answer.
                let _ = reply.send(outcome);
            }
        }
    }
}

/// The same failure for each request of a batch.
pub(crate) fn copy(e: &EngineError) -> EngineError {
    match e {
        EngineError::Unavailable(m) => EngineError::Unavailable(m.clone()),
        EngineError::Contention(m) => EngineError::Contention(m.clone()),
        other => EngineError::Internal(other.to_string()),
    }
}

/// Keeps the queue served if a runner panics: its place goes to a new runner when requests
/// are still waiting, or is given up.
struct Runner<W: Work>(Arc<Batcher<W>>);

impl<W: Work> Drop for Runner<W> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let batcher = &self.0;
        let mut q = batcher.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if !q.waiting.is_empty() => {
                rt.spawn(batcher.clone().run());
            }
            _ => q.running -= 1,
        }
    }
}
