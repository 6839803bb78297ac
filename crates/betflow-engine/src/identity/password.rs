//! Argon2id password hashing, off the async runtime.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::EngineError;

/// Argon2id cost. The default is OWASP's recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A few dedicated threads (one per core) that run every Argon2id hash. On tokio's blocking
/// pool a burst of logins ran each hash on its own thread, and each thread's allocator arena
/// kept its 19 MiB: 40 concurrent logins left the process at 0.8 GB RSS, 80 at 1.5 GB, for
/// good. Here at most one hash per core runs at once (more would only share the same cores),
/// and each thread reuses its own memory.
struct HashPool {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl HashPool {
    fn new() -> Result<Self, EngineError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender is gone
                        }
                    }
                })
                .map_err(|e| EngineError::Internal(format!("cannot start hashing threads: {e}")))?;
        }
        Ok(Self { jobs: tx })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| EngineError::Internal("hashing threads are gone".into()))?;
        rx.await
            .map_err(|_| EngineError::Internal("hashing job was dropped".into()))
    }
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasherService {
    params: Arc<Params>,
    pool: Arc<HashPool>,
    /// A real hash of a random password, verified against when a login names no user, so
    /// unknown and known usernames take the same time.
    dummy: Arc<String>,
}

impl PasswordHasherService {
    pub fn new(cost: PasswordCost) -> Result<Self, EngineError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| EngineError::Internal(format!("invalid Argon2 parameters: {e}")))?;
        let mut this = Self {
            params: Arc::new(params),
            pool: Arc::new(HashPool::new()?),
            dummy: Arc::new(String::new()),
        };
        let random = super::secrets::random_hex(16);
        this.dummy = Arc::new(this.hash_blocking(&random)?);
        Ok(this)
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, (*self.params).clone())
    }

    fn hash_blocking(&self, password: &str) -> Result<String, EngineError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, EngineError> {
        let this = self.clone();
        let pool = this.pool.clone();
        pool.run(move || this.hash_blocking(&password)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when `hash` is `None`
    /// (and then always answers `false`).
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let this = self.clone();
        let pool = this.pool.clone();
        pool.run(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| this.dummy.to_string());
            let ok = this
                .argon2()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok();
            ok && known
        })
        .await
        .unwrap_or(false)
    }
}
