//! Fresh, isolated databases for tests, shared by every crate's test suite.
//!
//! SQLite always runs. PostgreSQL runs when `BETFLOW_TEST_DATABASE_URL` is set; each test then
//! gets its own schema (selected through `search_path` in the URL), so tests run in parallel
//! without seeing each other's rows. If the variable is set but the server cannot be reached
//! the test fails: CI must never pass by silently skipping PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection;
use tempfile::TempDir;

use crate::{Store, StoreConfig};

pub const DATABASE_URL_VAR: &str = "BETFLOW_TEST_DATABASE_URL";
pub const REDIS_URL_VAR: &str = "BETFLOW_TEST_REDIS_URL";

/// A migrated database that lives as long as this value (SQLite) or the test run (PostgreSQL
/// schemas are left for `.ci/run` to drop with the whole test database).
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub config: StoreConfig,
    _dir: Option<TempDir>,
    /// A PostgreSQL database made for this test alone, dropped with it.
    database: Option<OwnDatabase>,
}

impl TestDb {
    /// A migrated SQLite database in a new temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let config = StoreConfig::embedded(dir.path());
        let store = crate::connect(&config).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            config,
            _dir: Some(dir),
            database: None,
        }
    }

    /// Wraps a second connection to an existing test database (a second node).
    pub fn from_store(store: Arc<dyn Store>) -> Self {
        Self {
            config: StoreConfig::embedded("unused"),
            store,
            _dir: None,
            database: None,
        }
    }

    /// A migrated PostgreSQL schema of its own, or `None` when PostgreSQL tests are not
    /// configured.
    pub async fn postgres() -> Option<Self> {
        let url = fresh_postgres_url().await?;
        let config = StoreConfig::with_url(url);
        let store = crate::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is set but unusable: {e}"));
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            config,
            _dir: None,
            database: None,
        })
    }

    /// A migrated PostgreSQL database of its own (not a schema in the shared test database),
    /// dropped when this value is, or `None` when PostgreSQL tests are not configured.
    ///
    /// For tests that read per-database statistics, such as `pg_stat_database.deadlocks`:
    /// every other test runs in the shared database at the same time, and its deadlocks
    /// would count there.
    pub async fn postgres_database() -> Option<Self> {
        let base = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|s| !s.is_empty())?;
        let name = format!("betflow_test_own_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin_connection(&base).await;
        // The name is generated above from a UUID, never from input. template0: nobody is
        // ever connected to it, so the copy cannot fail for a concurrent session there.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE template0"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let _ = conn.close().await;
        let database = OwnDatabase {
            base: base.clone(),
            name: name.clone(),
        };
        let config = StoreConfig::with_url(with_database(&base, &name));
        let store = crate::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is set but unusable: {e}"));
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            config,
            _dir: None,
            database: Some(database),
        })
    }

    /// The deadlocks PostgreSQL has detected in this test's own database (see
    /// [`postgres_database`](Self::postgres_database)) since it was made; `None` on SQLite
    /// and on a schema in the shared database, where the count is not this test's alone.
    ///
    /// A backend counts a deadlock in its own memory and flushes its statistics to the shared
    /// ones at most once a second, and an idle one only after ten (`pg_stat_force_next_flush`
    /// asks that only of the calling backend), so a count read while the pool's connections
    /// are open can miss deadlocks that happened. Every backend flushes when it exits, before
    /// it leaves `pg_stat_activity`: with `close`, the pool is closed first and the count is
    /// read once no other session is connected to the database. The store cannot be used
    /// after that.
    pub async fn deadlocks(&self, close: bool) -> Option<i64> {
        self.database.as_ref()?;
        if close {
            self.store.close().await;
        }
        let url = self.config.url.clone().unwrap_or_default();
        let mut conn = admin_connection(&url).await;
        let started = std::time::Instant::now();
        if close {
            loop {
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_one(&mut conn)
                .await
                .expect("read pg_stat_activity");
                if others == 0 {
                    break;
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(30),
                    "{others} session(s) still connected to the test database after 30 s"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&mut conn)
            .await
            .expect("clear the statistics snapshot");
        let n: i64 = sqlx::query_scalar(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("read pg_stat_database");
        let _ = conn.close().await;
        Some(n)
    }

    /// Makes PostgreSQL detect one deadlock in this test's own database, between two
    /// sessions of its own, and returns once the victim has seen it; `false` on SQLite and
    /// on a shared database. A test that asserts "no deadlock" runs this afterwards to show
    /// that [`deadlocks`](Self::deadlocks) would have seen one.
    pub async fn cause_deadlock(&self) -> bool {
        if self.database.is_none() {
            return false;
        }
        let url = self.config.url.clone().unwrap_or_default();
        let mut setup = admin_connection(&url).await;
        for sql in [
            "CREATE TABLE deadlock_probe (id INT PRIMARY KEY)",
            "INSERT INTO deadlock_probe VALUES (1), (2)",
        ] {
            sqlx::query(sql)
                .execute(&mut setup)
                .await
                .expect("create the deadlock probe");
        }
        let _ = setup.close().await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let side = |first: i32, second: i32| {
            let (url, barrier) = (url.clone(), barrier.clone());
            async move {
                let mut conn = admin_connection(&url).await;
                let mut tx = conn.begin().await.expect("begin");
                let lock = "SELECT id FROM deadlock_probe WHERE id = $1 FOR UPDATE";
                sqlx::query(lock)
                    .bind(first)
                    .execute(&mut *tx)
                    .await
                    .expect("first lock");
                barrier.wait().await;
                let r = sqlx::query(lock).bind(second).execute(&mut *tx).await;
                drop(tx);
                let _ = conn.close().await;
                r.err()
                    .and_then(|e| e.into_database_error())
                    .and_then(|e| e.code().map(|c| c.into_owned()))
            }
        };
        let (a, b) = tokio::join!(side(1, 2), side(2, 1));
        let victims = [a, b]
            .iter()
            .filter(|c| c.as_deref() == Some("40P01"))
            .count();
        assert_eq!(victims, 1, "exactly one side is the deadlock's victim");
        true
    }

    /// Whether `needle` appears in what the database keeps at rest: every byte of the SQLite
    /// files (the database and its WAL), or on PostgreSQL every row of `tables` as text. For
    /// tests that a secret is stored only encrypted; `tables` are the test's own constants.
    pub async fn raw_storage_contains(&self, tables: &[&str], needle: &str) -> bool {
        if self.store.backend() == crate::Backend::Sqlite {
            let path = self.config.sqlite_path();
            let mut found = false;
            for suffix in ["", "-wal", "-journal"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if let Ok(bytes) = std::fs::read(&file) {
                    found |= bytes
                        .windows(needle.len().max(1))
                        .any(|w| w == needle.as_bytes());
                }
            }
            return found;
        }
        let url = self.config.url.clone().unwrap_or_default();
        let mut conn = admin_connection(&url).await;
        let mut found = false;
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT t::text FROM {table} t"
            )))
            .fetch_all(&mut conn)
            .await
            .expect("read the table as text");
            found |= rows.iter().any(|r| r.contains(needle));
        }
        let _ = conn.close().await;
        found
    }
}

/// A database made by [`TestDb::postgres_database`]; dropping it drops the database.
struct OwnDatabase {
    base: String,
    name: String,
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be shutting down: a thread with a
        // runtime of its own. FORCE ends sessions still connected (a pool not yet closed).
        let (base, name) = (self.base.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime to drop the test database");
            rt.block_on(async {
                let mut conn = admin_connection(&base).await;
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
                if let Err(e) = r {
                    eprintln!("could not drop test database {name}: {e}");
                }
                let _ = conn.close().await;
            });
        });
        let _ = done.join();
    }
}

/// One plain connection to `url`; panics, naming the variable, when it cannot be had.
async fn admin_connection(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "{DATABASE_URL_VAR} is set but PostgreSQL is unreachable at {}: {e}",
            crate::redact_url(url)
        )
    })
}

/// `url` (`postgres://user@host:port/db?params`) naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let authority_at = head.find("://").map_or(0, |i| i + 3);
    let path_at = head[authority_at..]
        .find('/')
        .map_or(head.len(), |i| authority_at + i);
    let mut out = format!("{}/{name}", &head[..path_at]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates an empty schema and returns a URL whose connections use it, or `None` when
/// `BETFLOW_TEST_DATABASE_URL` is unset.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|s| !s.is_empty())?;
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = admin_connection(&base).await;
    // The schema name is generated above from a UUID, never from input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// The Redis URL for tests, or `None` when Redis tests are not configured.
pub fn redis_url() -> Option<String> {
    std::env::var(REDIS_URL_VAR).ok().filter(|s| !s.is_empty())
}

/// Writes each store test once and runs it on SQLite and on PostgreSQL.
///
/// Each named function takes a [`TestDb`] and is expanded into `sqlite::name` and
/// `postgres::name` test cases; the PostgreSQL ones run when `BETFLOW_TEST_DATABASE_URL` is
/// set.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::testing::TestDb::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!(
                            "{} unset: PostgreSQL half of {} not run",
                            $crate::testing::DATABASE_URL_VAR,
                            stringify!($name)
                        ),
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_url_names_another_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/betflow_test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
