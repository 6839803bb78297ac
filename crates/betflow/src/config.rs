//! Command-line flags and their `BETFLOW_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use betflow_domain::identity::LockoutPolicy;
use betflow_domain::units::{parse_byte_size, parse_duration};
use betflow_domain::workflow::seeded::{RiskThresholds, Threshold};
use betflow_engine::examples::BettingPlatform;
use betflow_engine::identity::IdentityConfig;
use betflow_engine::ratelimit::Rule;
use betflow_engine::secrets::EncryptionKey;
use betflow_engine::{EncryptionConfig, EngineConfig};
use betflow_store::{Backend, StoreConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "betflow",
    version,
    about = "Sportsbook operations with approval workflows"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the API and the job worker (see --roles).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
    /// Administration against the configured database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The keys that encrypt stored secrets.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypts every stored secret (credentials, secret variables, webhook secrets) under
    /// BETFLOW_ENCRYPTION_KEY, decrypting with BETFLOW_PREVIOUS_ENCRYPTION_KEYS. Row by row:
    /// safe beside running servers, and an interrupted run is resumed by running it again.
    Rotate(RotateKeysArgs),
}

#[derive(Debug, Args)]
pub struct RotateKeysArgs {
    /// Embedded default only: generate a new key into the data dir's key file first (the
    /// old one stays there for decryption until the rotation is done).
    #[arg(long, env = "BETFLOW_ROTATE_GENERATE", default_value_t = false)]
    pub generate: bool,
    /// Stop after this many rows (0: all); run again to continue.
    #[arg(long, env = "BETFLOW_ROTATE_LIMIT", default_value_t = 0)]
    pub limit: u64,
    #[command(flatten)]
    pub encryption: EncryptionArgs,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The keys that encrypt stored secrets at rest.
#[derive(Debug, Clone, Args)]
pub struct EncryptionArgs {
    /// AES-256 key for stored secrets: 32 bytes as 64 hex characters or base64
    /// (`openssl rand -hex 32`). Required with PostgreSQL; on the embedded default it is
    /// generated once and kept in the data dir.
    #[arg(long, env = "BETFLOW_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    /// Keys replaced by a rotation, comma-separated: they only decrypt, until
    /// `betflow keys rotate` has moved every value to BETFLOW_ENCRYPTION_KEY.
    #[arg(
        long,
        env = "BETFLOW_PREVIOUS_ENCRYPTION_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub previous_encryption_keys: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user. Without --password, a random one is generated and printed once.
    CreateUser(CreateUserArgs),
    /// Create an API key for a user and print it once.
    CreateApiKey(CreateApiKeyArgs),
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// One of the built-in roles (admin, trader, risk_manager, ...).
    #[arg(long)]
    pub role: String,
    /// Prefer the BETFLOW_NEW_USER_PASSWORD variable: flags show up in process lists.
    #[arg(long, env = "BETFLOW_NEW_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Extra permissions, comma-separated.
    #[arg(long, env = "BETFLOW_NEW_USER_PERMISSIONS", value_delimiter = ',')]
    pub permissions: Vec<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct CreateApiKeyArgs {
    /// Owner's username or email.
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub name: String,
    /// Comma-separated; at most the owner's. Omitted: all of the owner's permissions.
    #[arg(long, env = "BETFLOW_NEW_KEY_PERMISSIONS", value_delimiter = ',')]
    pub permissions: Option<Vec<String>>,
    /// Lifetime, e.g. 30d. Omitted: no expiry.
    #[arg(long, env = "BETFLOW_NEW_KEY_EXPIRES_IN", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Sessions, lockout and rate limits.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Password for the `admin` user created on first start (when there are no users).
    /// Unset: a random one is printed once.
    #[arg(long, env = "BETFLOW_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Access token lifetime.
    #[arg(long, env = "BETFLOW_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Refresh token (session) lifetime.
    #[arg(long, env = "BETFLOW_REFRESH_TOKEN_TTL", default_value = "7d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// Failed logins before an account locks.
    #[arg(long, env = "BETFLOW_LOCKOUT_THRESHOLD", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub lockout_threshold: u32,

    /// How long a locked account stays locked.
    #[arg(long, env = "BETFLOW_LOCKOUT_DURATION", default_value = "15m", value_parser = parse_duration)]
    pub lockout_duration: Duration,

    /// Requests per user or API key on /api/v1, as COUNT/WINDOW.
    #[arg(long, env = "BETFLOW_RATE_LIMIT", default_value = "1000/15m", value_parser = Rule::parse)]
    pub rate_limit: Rule,

    /// Login and refresh attempts per client IP, as COUNT/WINDOW.
    #[arg(long, env = "BETFLOW_LOGIN_RATE_LIMIT", default_value = "10/1m", value_parser = Rule::parse)]
    pub login_rate_limit: Rule,

    /// Customer registrations per client IP, as COUNT/WINDOW. Apart from the login limit, so
    /// sign-ups neither use up nor escape the budget for password guesses.
    #[arg(long, env = "BETFLOW_REGISTER_RATE_LIMIT", default_value = "20/1h", value_parser = Rule::parse)]
    pub register_rate_limit: Rule,
}

impl AuthArgs {
    pub fn identity_config(&self, secret: &Secret) -> IdentityConfig {
        let mut c = IdentityConfig::new(secret.expose().as_bytes().to_vec());
        c.access_ttl = self.access_token_ttl;
        c.refresh_ttl = self.refresh_token_ttl;
        c.lockout = LockoutPolicy {
            max_attempts: self.lockout_threshold,
            lock_for: self.lockout_duration,
        };
        c
    }
}

/// What one process does. Every process may take any mix; the queue makes workers safe to
/// run side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProcessRole {
    /// The REST API and its docs.
    Api,
    /// Runs due jobs (step timeouts, delays and automated steps) and relays the outbox's
    /// events to real-time clients, other nodes and webhooks.
    Worker,
    /// Fires due automation schedules (seed 003's Scheduler service). Several may run: each
    /// firing happens once.
    Scheduler,
}

/// The workflow engine: which roles this process runs, and the line-change risk levels.
#[derive(Debug, Clone, Args)]
pub struct WorkflowArgs {
    /// Roles of this process, comma-separated: api, worker, scheduler. A process without `api`
    /// still serves /health, /ready and /metrics.
    #[arg(
        long,
        env = "BETFLOW_ROLES",
        value_enum,
        value_delimiter = ',',
        default_value = "api,worker,scheduler"
    )]
    pub roles: Vec<ProcessRole>,

    /// How often the scheduler (on scheduler processes) looks for due schedules.
    #[arg(long, env = "BETFLOW_SCHEDULER_POLL", default_value = "1s", value_parser = parse_duration)]
    pub scheduler_poll: Duration,

    /// How often an idle worker looks for due jobs.
    #[arg(long, env = "BETFLOW_WORKER_POLL", default_value = "1s", value_parser = parse_duration)]
    pub worker_poll: Duration,

    /// How often the event relay (on worker processes) looks for events written by other
    /// processes; events written by this one are relayed at once.
    #[arg(long, env = "BETFLOW_EVENT_POLL", default_value = "100ms", value_parser = parse_duration)]
    pub event_poll: Duration,

    /// Where a line change becomes medium risk: PERCENT:AMOUNT, the odds change in percent or
    /// the financial impact in minor units (cents), whichever is reached first. The default
    /// is 5 % or 10,000.00.
    #[arg(long, env = "BETFLOW_RISK_MEDIUM", default_value = "5:1000000", value_parser = RiskThresholds::parse_level)]
    pub risk_medium: Threshold,

    /// Where a line change becomes high risk: PERCENT:AMOUNT (minor units), by default 10 %
    /// or 50,000.00.
    #[arg(long, env = "BETFLOW_RISK_HIGH", default_value = "10:5000000", value_parser = RiskThresholds::parse_level)]
    pub risk_high: Threshold,

    /// Where a line change becomes critical: PERCENT:AMOUNT (minor units), by default 20 % or
    /// 100,000.00.
    #[arg(long, env = "BETFLOW_RISK_CRITICAL", default_value = "20:10000000", value_parser = RiskThresholds::parse_level)]
    pub risk_critical: Threshold,

    /// The most approvals and rejections (of different workflows) decided in one database
    /// transaction: decisions that arrive together share it, each decided by the same rules.
    /// 1 decides every one in its own.
    #[arg(long, env = "BETFLOW_DECISION_BATCH_MAX", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub decision_batch_max: u16,

    /// How many such transactions may be in flight at once; 0: one on SQLite (one writer),
    /// four on PostgreSQL.
    #[arg(long, env = "BETFLOW_DECISION_BATCH_CONCURRENCY", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=64))]
    pub decision_batch_concurrency: u16,

    /// How long audit rows are kept before the worker deletes them (the seed's daily
    /// maintenance: a year), or `forever`.
    #[arg(long, env = "BETFLOW_AUDIT_RETENTION", default_value = "365d", value_parser = parse_retention)]
    pub audit_retention: Retention,

    /// How long system events are kept (the seed: six months), or `forever`.
    #[arg(long, env = "BETFLOW_SYSTEM_EVENT_RETENTION", default_value = "182d", value_parser = parse_retention)]
    pub system_event_retention: Retention,

    /// How long ended automation executions and their step attempts are kept (30 days by
    /// default), or `forever`. Their workflows and histories stay.
    #[arg(long, env = "BETFLOW_EXECUTION_RETENTION", default_value = "30d", value_parser = parse_retention)]
    pub execution_retention: Retention,
}

/// A retention period; `None` keeps rows forever.
pub type Retention = Option<Duration>;

/// `forever`, or a duration of at least a day (shorter would delete the audit trail of
/// work still in progress).
fn parse_retention(input: &str) -> Result<Retention, String> {
    if input.trim().eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let d = parse_duration(input)?;
    if d < Duration::from_secs(86_400) {
        return Err(format!("{input:?}: keep at least a day, or say forever"));
    }
    Ok(Some(d))
}

impl WorkflowArgs {
    pub fn retention(&self) -> betflow_engine::jobs::Retention {
        betflow_engine::jobs::Retention {
            audit: self.audit_retention,
            system_events: self.system_event_retention,
            executions: self.execution_retention,
        }
    }

    pub fn batching(&self) -> betflow_engine::batch::BatchSettings {
        betflow_engine::batch::BatchSettings {
            max: self.decision_batch_max.into(),
            concurrent: self.decision_batch_concurrency.into(),
        }
    }

    pub fn risk_thresholds(&self) -> anyhow::Result<RiskThresholds> {
        RiskThresholds::new(self.risk_medium, self.risk_high, self.risk_critical)
            .map_err(|e| anyhow::anyhow!("BETFLOW_RISK_*: {e}"))
    }

    pub fn runs(&self, role: ProcessRole) -> bool {
        self.roles.contains(&role)
    }
}

/// Outbound webhook delivery.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Delays between delivery attempts, comma-separated (with jitter; a receiver's
    /// Retry-After on 429/503 is honoured when longer).
    #[arg(long, env = "BETFLOW_WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h",
          value_parser = betflow_domain::webhooks::parse_schedule)]
    pub webhook_retry_schedule: std::vec::Vec<Duration>,

    /// Allow webhook URLs that resolve to private, loopback or link-local addresses.
    #[arg(long, env = "BETFLOW_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub webhooks_allow_private: bool,

    /// An endpoint whose every delivery has failed for this long is disabled.
    #[arg(long, env = "BETFLOW_WEBHOOK_DISABLE_AFTER", default_value = "5d", value_parser = parse_duration)]
    pub webhook_disable_after: Duration,

    /// After a secret rotation, how long the old secret still signs deliveries.
    #[arg(long, env = "BETFLOW_WEBHOOK_SECRET_GRACE", default_value = "24h", value_parser = parse_duration)]
    pub webhook_secret_grace: Duration,
}

impl WebhookArgs {
    pub fn settings(&self) -> betflow_engine::webhooks::WebhookSettings {
        betflow_engine::webhooks::WebhookSettings {
            schedule: self.webhook_retry_schedule.clone(),
            allow_private: self.webhooks_allow_private,
            disable_after: self.webhook_disable_after,
            secret_grace: self.webhook_secret_grace,
        }
    }
}

/// House rules for bets, in minor units of the bet's currency.
#[derive(Debug, Clone, Args)]
pub struct BetArgs {
    /// The smallest stake accepted.
    #[arg(long, env = "BETFLOW_MIN_STAKE", default_value_t = 100)]
    pub min_stake: i64,
    /// The largest stake accepted.
    #[arg(long, env = "BETFLOW_MAX_STAKE", default_value_t = 1_000_000)]
    pub max_stake: i64,
    /// The most one bet may return, stake included.
    #[arg(long, env = "BETFLOW_MAX_PAYOUT", default_value_t = 100_000_000)]
    pub max_payout: i64,
    /// Where an odds change needs approval: PERCENT:AMOUNT, the change in percent of the old
    /// odds or the selection's net liability in minor units (cents) like every amount,
    /// whichever is passed first. The default is 10 % or 10,000.00.
    #[arg(long, env = "BETFLOW_LINE_CHANGE_THRESHOLD", default_value = "10:1000000",
          value_parser = RiskThresholds::parse_level)]
    pub line_change_threshold: Threshold,
    /// Shared with the payment provider, which signs its callbacks with it (Standard
    /// Webhooks, `whsec_…`). Unset: `POST /api/v1/wallet/provider-callback` is off.
    #[arg(long, env = "BETFLOW_PAYMENTS_WEBHOOK_SECRET", hide_env_values = true)]
    pub payments_webhook_secret: Option<String>,
    /// How long an in-play bet waits before it is checked again and accepted.
    #[arg(long, env = "BETFLOW_IN_PLAY_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub in_play_delay: Duration,
    /// The most bets placed in one database transaction: bets that arrive together share
    /// it, each decided by the same rules. 1 places every bet in its own.
    #[arg(long, env = "BETFLOW_BET_BATCH_MAX", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub bet_batch_max: u16,
    /// How many such transactions may be in flight at once; 0: one on SQLite (one writer),
    /// four on PostgreSQL.
    #[arg(long, env = "BETFLOW_BET_BATCH_CONCURRENCY", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=64))]
    pub bet_batch_concurrency: u16,
    /// The external betting platform approved content is published to (seed 000's
    /// `BETTING_API_URL`): with the key set, `content_publishing_sync` posts to `{url}/content`.
    #[arg(long, env = "BETFLOW_BETTING_API_URL")]
    pub betting_api_url: Option<String>,
    /// The platform's API key, sent in `X-API-Key` (stored encrypted as the credential
    /// `betting-platform-api-key`).
    #[arg(long, env = "BETFLOW_BETTING_API_KEY", hide_env_values = true)]
    pub betting_api_key: Option<String>,
    /// How long one request to the platform may take, in milliseconds.
    #[arg(long, env = "BETFLOW_BETTING_API_TIMEOUT", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..=300_000))]
    pub betting_api_timeout: u64,
}

impl BetArgs {
    /// The betting platform approved content is published to, when both its URL and key
    /// are set (seed 000's `BETTING_API_*`).
    pub fn betting_platform(&self) -> anyhow::Result<Option<BettingPlatform>> {
        let url = self.betting_api_url.as_deref().map(str::trim).unwrap_or("");
        let key = self.betting_api_key.as_deref().map(str::trim).unwrap_or("");
        if url.is_empty() || key.is_empty() {
            return Ok(None);
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            anyhow::bail!("BETFLOW_BETTING_API_URL must be an http(s) URL");
        }
        Ok(Some(BettingPlatform {
            url: url.to_owned(),
            api_key: key.to_owned(),
            timeout: Duration::from_millis(self.betting_api_timeout),
        }))
    }

    /// The payment provider's callback secret, checked: a malformed one would start the server
    /// and then fail every callback. The message never repeats the value.
    pub fn payments_secret(&self) -> anyhow::Result<Option<String>> {
        match self
            .payments_webhook_secret
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(s) => match betflow_domain::webhooks::check_secret(s) {
                Ok(()) => Ok(Some(s.to_owned())),
                Err(why) => anyhow::bail!("BETFLOW_PAYMENTS_WEBHOOK_SECRET is malformed: {why}"),
            },
        }
    }

    pub fn batching(&self) -> betflow_engine::batch::BatchSettings {
        betflow_engine::batch::BatchSettings {
            max: self.bet_batch_max.into(),
            concurrent: self.bet_batch_concurrency.into(),
        }
    }

    pub fn line_change(&self) -> betflow_engine::line_changes::LineChangeSettings {
        betflow_engine::line_changes::LineChangeSettings {
            percent: self.line_change_threshold.0,
            liability: self.line_change_threshold.1,
        }
    }

    pub fn settings(&self) -> anyhow::Result<betflow_domain::sportsbook::bets::BetSettings> {
        if self.min_stake < 1 || self.min_stake > self.max_stake || self.max_stake > self.max_payout
        {
            anyhow::bail!(
                "expected 1 <= BETFLOW_MIN_STAKE <= BETFLOW_MAX_STAKE <= BETFLOW_MAX_PAYOUT"
            );
        }
        Ok(betflow_domain::sportsbook::bets::BetSettings {
            min_stake: self.min_stake,
            max_stake: self.max_stake,
            max_payout: self.max_payout,
            in_play_delay: self.in_play_delay,
        })
    }
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL (postgres://user:pass@host/db) or sqlite://path. Unset: the embedded
    /// SQLite database in --data-dir.
    #[arg(long, env = "BETFLOW_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the embedded database and generated secrets.
    #[arg(long, env = "BETFLOW_DATA_DIR", default_value = "./betflow-data")]
    pub data_dir: PathBuf,

    /// Maximum database connections in this process's pool.
    #[arg(long, env = "BETFLOW_DB_POOL_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// How long to keep retrying an unreachable database at start (e.g. 30s, 2m).
    #[arg(long, env = "BETFLOW_DB_CONNECT_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub db_connect_timeout: Duration,
}

impl DatabaseArgs {
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            url: self.database_url.clone().filter(|u| !u.trim().is_empty()),
            data_dir: self.data_dir.clone(),
            max_connections: self.db_pool_size,
            connect_timeout: self.db_connect_timeout,
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format: text for people, json for log pipelines.
    #[arg(long, env = "BETFLOW_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter, e.g. info or betflow=debug,tower_http=info.
    #[arg(long, env = "BETFLOW_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BETFLOW_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Redis URL (redis://host:6379). Optional; when set, /ready checks it.
    #[arg(long, env = "BETFLOW_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Allowed CORS origins, comma-separated; `*` for any origin, empty to disable CORS.
    #[arg(
        long,
        env = "BETFLOW_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:3000"
    )]
    pub cors_origins: Vec<String>,

    /// Secret for signing access tokens (at least 32 characters). Required with PostgreSQL;
    /// on the embedded default it is generated once and kept in the data dir.
    #[arg(long, env = "BETFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the
    /// client, for per-IP limits and audit rows. Empty: the TCP peer is the client.
    #[arg(long, env = "BETFLOW_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// How long a socket.io connection may stay unauthenticated before it is dropped.
    #[arg(long, env = "BETFLOW_SOCKET_AUTH_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub socket_auth_grace: Duration,

    /// Largest accepted request body (e.g. 10mb, 512kb).
    #[arg(long, env = "BETFLOW_BODY_LIMIT", default_value = "10mb", value_parser = parse_byte_size)]
    pub body_limit: u64,

    /// Longest time a request may take to produce its response (e.g. 30s).
    #[arg(long, env = "BETFLOW_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "BETFLOW_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub encryption: EncryptionArgs,

    #[command(flatten)]
    pub workflows: WorkflowArgs,

    #[command(flatten)]
    pub webhooks: WebhookArgs,

    #[command(flatten)]
    pub bets: BetArgs,

    #[command(flatten)]
    pub log: LogArgs,

    /// Mount test-only routes (/__debug/sleep, /__debug/panic). Never in production.
    #[arg(long, env = "BETFLOW_DEBUG_ROUTES", hide = true)]
    pub debug_routes: bool,
}

impl ServeArgs {
    /// Every engine setting from the flags, with the JWT secret resolved by the caller.
    /// Fails on a setting whose value only makes sense once parsed (bet bounds, risk
    /// thresholds, the payments secret's source).
    pub fn engine_config(
        &self,
        jwt_secret: &Secret,
        encryption: EncryptionConfig,
    ) -> anyhow::Result<EngineConfig> {
        Ok(EngineConfig {
            encryption,
            identity: self.auth.identity_config(jwt_secret),
            bets: self.bets.settings()?,
            bet_batching: self.bets.batching(),
            decision_batching: self.workflows.batching(),
            line_change: self.bets.line_change(),
            risk: self.workflows.risk_thresholds()?,
            retention: self.workflows.retention(),
            webhooks: self.webhooks.settings(),
            payments_secret: self.bets.payments_secret()?,
            betting_platform: self.bets.betting_platform()?,
        })
    }
}

/// A secret that never appears in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A throwaway secret for commands that never issue tokens (the admin CLI).
    pub fn ephemeral() -> Self {
        let mut b = [0u8; 32];
        let _ = getrandom::fill(&mut b);
        Self(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the JWT secret came from, for the startup banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    Generated(PathBuf),
    Loaded(PathBuf),
}

pub const MIN_JWT_SECRET_LEN: usize = 32;
const JWT_SECRET_FILE: &str = "jwt-secret";

/// Resolves the JWT secret: the configured one, or (embedded SQLite only) one generated on
/// first start and kept in the data dir with owner-only permissions.
pub fn resolve_jwt_secret(
    configured: Option<&str>,
    backend: Backend,
    data_dir: &Path,
) -> anyhow::Result<(Secret, SecretSource)> {
    if let Some(s) = configured.filter(|s| !s.is_empty()) {
        if s.len() < MIN_JWT_SECRET_LEN {
            bail!("BETFLOW_JWT_SECRET must be at least {MIN_JWT_SECRET_LEN} characters");
        }
        return Ok((Secret(s.to_owned()), SecretSource::Configured));
    }
    if backend == Backend::Postgres {
        bail!(
            "BETFLOW_JWT_SECRET is required with PostgreSQL: every node must sign tokens with \
             the same secret. Generate one with `openssl rand -hex 32`."
        );
    }
    let path = data_dir.join(JWT_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= MIN_JWT_SECRET_LEN => {
            return Ok((Secret(s.trim().to_owned()), SecretSource::Loaded(path)));
        }
        Ok(_) => bail!(
            "{} is shorter than {MIN_JWT_SECRET_LEN} characters; delete it to regenerate",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok((Secret(secret), SecretSource::Generated(path)))
}

/// Where the encryption key came from, for the startup banner.
pub type KeySource = SecretSource;

pub const ENCRYPTION_KEY_FILE: &str = "encryption-key";

fn parse_key(var: &str, text: &str) -> anyhow::Result<EncryptionKey> {
    EncryptionKey::parse(text).map_err(|why| anyhow::anyhow!("{var} is malformed: {why}"))
}

/// The keys in a key file: the current one on the first line, older ones after it.
fn read_key_file(path: &Path) -> anyhow::Result<Option<Vec<EncryptionKey>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let keys = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .enumerate()
                .map(|(i, l)| {
                    EncryptionKey::parse(l).map_err(|why| {
                        anyhow::anyhow!("{} line {} is malformed: {why}", path.display(), i + 1)
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if keys.is_empty() {
                bail!("{} is empty; delete it to regenerate", path.display());
            }
            Ok(Some(keys))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a key file (current key first) atomically, owner-only.
pub fn write_key_file(path: &Path, keys: &[EncryptionKey]) -> anyhow::Result<()> {
    let text: String = keys.iter().map(|k| format!("{}\n", k.to_hex())).collect();
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Resolves the encryption keys: the configured ones, or (embedded SQLite only) the data
/// dir's key file, generated on first start with owner-only permissions. On the embedded
/// default, the key file's keys also decrypt when a key is configured, so moving from the
/// generated key to a configured one is a rotation, not a loss.
pub fn resolve_encryption_keys(
    args: &EncryptionArgs,
    backend: Backend,
    data_dir: &Path,
) -> anyhow::Result<(EncryptionConfig, KeySource)> {
    let mut previous = args
        .previous_encryption_keys
        .iter()
        .filter(|k| !k.trim().is_empty())
        .enumerate()
        .map(|(i, k)| {
            parse_key(
                &format!("BETFLOW_PREVIOUS_ENCRYPTION_KEYS (key {})", i + 1),
                k,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let configured = args
        .encryption_key
        .as_deref()
        .filter(|k| !k.trim().is_empty())
        .map(|k| parse_key("BETFLOW_ENCRYPTION_KEY", k))
        .transpose()?;
    if backend == Backend::Postgres {
        let Some(key) = configured else {
            bail!(
                "BETFLOW_ENCRYPTION_KEY is required with PostgreSQL: every node must encrypt and \
                 decrypt stored secrets with the same key. Generate one with `openssl rand -hex 32`."
            );
        };
        return Ok((
            EncryptionConfig {
                key: Some(key),
                previous,
            },
            SecretSource::Configured,
        ));
    }
    let path = data_dir.join(ENCRYPTION_KEY_FILE);
    let from_file = read_key_file(&path)?;
    if let Some(key) = configured {
        previous.extend(from_file.into_iter().flatten());
        return Ok((
            EncryptionConfig {
                key: Some(key),
                previous,
            },
            SecretSource::Configured,
        ));
    }
    if let Some(mut keys) = from_file {
        let current = keys.remove(0);
        previous.extend(keys);
        return Ok((
            EncryptionConfig {
                key: Some(current),
                previous,
            },
            SecretSource::Loaded(path),
        ));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let key = EncryptionKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_private(&path, &format!("{}\n", key.to_hex()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((
        EncryptionConfig {
            key: Some(key),
            previous,
        },
        SecretSource::Generated(path),
    ))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_requires_a_configured_secret() {
        let dir = tempfile_dir();
        let err = resolve_jwt_secret(None, Backend::Postgres, &dir).unwrap_err();
        assert!(err.to_string().contains("BETFLOW_JWT_SECRET is required"));
        assert!(resolve_jwt_secret(Some("short"), Backend::Postgres, &dir).is_err());
        let long = "k".repeat(40);
        let (s, src) = resolve_jwt_secret(Some(&long), Backend::Postgres, &dir).unwrap();
        assert_eq!((s.expose(), src), (long.as_str(), SecretSource::Configured));
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn embedded_secret_is_generated_once_then_reused() {
        let dir = tempfile_dir();
        let (first, src) = resolve_jwt_secret(None, Backend::Sqlite, &dir).unwrap();
        assert!(matches!(src, SecretSource::Generated(_)));
        assert_eq!(first.expose().len(), 64);
        let (second, src) = resolve_jwt_secret(None, Backend::Sqlite, &dir).unwrap();
        assert!(matches!(src, SecretSource::Loaded(_)));
        assert_eq!(first.expose(), second.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(JWT_SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    fn keys(key: Option<&str>, previous: &[&str]) -> EncryptionArgs {
        EncryptionArgs {
            encryption_key: key.map(str::to_owned),
            previous_encryption_keys: previous.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn postgres_requires_a_well_formed_encryption_key() {
        let dir = tempfile_dir();
        let err = resolve_encryption_keys(&keys(None, &[]), Backend::Postgres, &dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("BETFLOW_ENCRYPTION_KEY is required"),
            "{err}"
        );
        let hex = "ab".repeat(32);
        for bad in ["short", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            let err = resolve_encryption_keys(&keys(Some(bad), &[]), Backend::Postgres, &dir)
                .unwrap_err()
                .to_string();
            assert!(err.contains("BETFLOW_ENCRYPTION_KEY is malformed"), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
        let err = resolve_encryption_keys(&keys(Some(&hex), &["nope"]), Backend::Postgres, &dir)
            .unwrap_err();
        assert!(
            err.to_string().contains("BETFLOW_PREVIOUS_ENCRYPTION_KEYS"),
            "{err}"
        );
        let (c, src) = resolve_encryption_keys(
            &keys(Some(&hex), &[&"cd".repeat(32)]),
            Backend::Postgres,
            &dir,
        )
        .unwrap();
        assert_eq!(src, SecretSource::Configured);
        assert_eq!(c.key.unwrap().to_hex(), hex);
        assert_eq!(c.previous.len(), 1);
        assert!(!dir.join(ENCRYPTION_KEY_FILE).exists());
    }

    #[test]
    fn embedded_encryption_key_is_generated_once_then_reused() {
        let dir = tempfile_dir();
        let (first, src) =
            resolve_encryption_keys(&keys(None, &[]), Backend::Sqlite, &dir).unwrap();
        assert!(matches!(src, SecretSource::Generated(_)));
        let (second, src) =
            resolve_encryption_keys(&keys(None, &[]), Backend::Sqlite, &dir).unwrap();
        assert!(matches!(src, SecretSource::Loaded(_)));
        let id = |c: &EncryptionConfig| c.key.as_ref().unwrap().id();
        assert_eq!(id(&first), id(&second));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(ENCRYPTION_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A configured key takes over; the generated one still decrypts.
        let hex = "ab".repeat(32);
        let (c, _) =
            resolve_encryption_keys(&keys(Some(&hex), &[]), Backend::Sqlite, &dir).unwrap();
        assert_eq!(c.key.unwrap().to_hex(), hex);
        assert_eq!(
            c.previous.iter().map(EncryptionKey::id).collect::<Vec<_>>(),
            [id(&first)]
        );
        // A rotated key file: the first line encrypts, the others decrypt.
        let new = EncryptionKey::generate().unwrap();
        write_key_file(
            &dir.join(ENCRYPTION_KEY_FILE),
            &[new.clone(), first.key.clone().unwrap()],
        )
        .unwrap();
        let (c, _) = resolve_encryption_keys(&keys(None, &[]), Backend::Sqlite, &dir).unwrap();
        assert_eq!(c.key.unwrap().id(), new.id());
        assert_eq!(c.previous.len(), 1);
        std::fs::write(dir.join(ENCRYPTION_KEY_FILE), "garbage\n").unwrap();
        assert!(resolve_encryption_keys(&keys(None, &[]), Backend::Sqlite, &dir).is_err());
    }

    #[test]
    fn webhook_settings_parse() {
        let serve = |extra: &[&str]| {
            let mut args = vec!["betflow", "serve"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Command::Serve(a)) => Ok(a.webhooks.settings()),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.to_string()),
            }
        };
        let default = serve(&[]).unwrap();
        assert_eq!(default.schedule.len(), 6);
        assert_eq!(default.schedule[1], Duration::from_secs(300));
        assert!(!default.allow_private);
        let custom = serve(&[
            "--webhook-retry-schedule",
            "1s,2s",
            "--webhooks-allow-private",
            "true",
        ])
        .unwrap();
        assert_eq!(
            custom.schedule,
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert!(custom.allow_private);
        assert!(serve(&["--webhook-retry-schedule", "1s,later"]).is_err());
    }

    #[test]
    fn retention_parses_durations_and_forever_and_refuses_less_than_a_day() {
        let serve = |extra: &[&str]| {
            let mut args = vec!["betflow", "serve"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Command::Serve(a)) => Ok(a.workflows.retention()),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.to_string()),
            }
        };
        let day = Duration::from_secs(86_400);
        let default = serve(&[]).unwrap();
        assert_eq!(default.audit, Some(day * 365));
        assert_eq!(default.system_events, Some(day * 182));
        assert_eq!(default.executions, Some(day * 30));
        let custom = serve(&[
            "--audit-retention",
            "Forever",
            "--system-event-retention",
            "30d",
        ])
        .unwrap();
        assert_eq!((custom.audit, custom.system_events), (None, Some(day * 30)));
        for bad in [
            ["--audit-retention", "12h"],
            ["--audit-retention", "0"],
            ["--system-event-retention", "never"],
            ["--system-event-retention", ""],
        ] {
            assert!(serve(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn batching_settings_parse_and_refuse_out_of_range() {
        let serve = |extra: &[&str]| {
            let mut args = vec!["betflow", "serve"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Command::Serve(a)) => Ok((a.bets.batching(), a.workflows.batching())),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.to_string()),
            }
        };
        let (bets, decisions) = serve(&[]).unwrap();
        assert_eq!((bets.max, bets.concurrent), (32, 0));
        assert_eq!((decisions.max, decisions.concurrent), (32, 0));
        let (bets, decisions) = serve(&[
            "--bet-batch-max",
            "1",
            "--bet-batch-concurrency",
            "2",
            "--decision-batch-max",
            "8",
            "--decision-batch-concurrency",
            "3",
        ])
        .unwrap();
        assert_eq!((bets.max, bets.concurrent), (1, 2));
        assert_eq!((decisions.max, decisions.concurrent), (8, 3));
        for flag in ["bet", "decision"] {
            let max = format!("--{flag}-batch-max");
            let concurrency = format!("--{flag}-batch-concurrency");
            for bad in [
                [max.as_str(), "0"],
                [max.as_str(), "257"],
                [max.as_str(), "many"],
                [concurrency.as_str(), "65"],
                [concurrency.as_str(), "-1"],
            ] {
                assert!(serve(&bad).is_err(), "{bad:?} accepted");
            }
        }
    }

    /// Every amount of money in the settings is in minor units; the defaults are the
    /// domain's (10,000.00 of liability, the seed's risk levels) and whole numbers only.
    #[test]
    fn line_change_and_risk_amounts_are_minor_units() {
        let serve = |extra: &[&str]| {
            let mut args = vec!["betflow", "serve"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Command::Serve(a)) => Ok((a.bets.line_change(), a.workflows.risk_thresholds())),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.to_string()),
            }
        };
        let (line, risk) = serve(&[]).unwrap();
        assert_eq!(
            line,
            betflow_engine::line_changes::LineChangeSettings::default()
        );
        assert_eq!(line.liability, 1_000_000);
        assert_eq!(risk.unwrap(), RiskThresholds::default());
        let (line, _) = serve(&["--line-change-threshold", "5:250000"]).unwrap();
        assert_eq!(line.liability, 250_000);
        for bad in [
            ["--line-change-threshold", "10:10000.50"],
            ["--line-change-threshold", "10:-1"],
            ["--risk-high", "10:99999999999999999999"],
        ] {
            assert!(serve(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_betting_platform_needs_both_its_url_and_key() {
        let serve = |extra: &[&str]| {
            let mut args = vec!["betflow", "serve"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Command::Serve(a)) => a.bets.betting_platform().map_err(|e| e.to_string()),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.to_string()),
            }
        };
        assert!(serve(&[]).unwrap().is_none());
        assert!(
            serve(&["--betting-api-url", "https://platform.example"])
                .unwrap()
                .is_none()
        );
        assert!(serve(&["--betting-api-key", "k"]).unwrap().is_none());
        let both = serve(&[
            "--betting-api-url",
            "https://platform.example",
            "--betting-api-key",
            "secret-key",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(both.url, "https://platform.example");
        assert_eq!(both.timeout, Duration::from_millis(30_000));
        assert!(!format!("{both:?}").contains("secret-key"));
        let err = serve(&[
            "--betting-api-url",
            "ftp://platform.example",
            "--betting-api-key",
            "secret-key",
        ])
        .unwrap_err();
        assert!(!err.contains("secret-key"), "{err}");
        assert!(serve(&["--betting-api-timeout", "0"]).is_err());
    }

    #[test]
    fn every_setting_has_an_env_var() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let admin = cli.find_subcommand("admin").unwrap();
        let keys = cli.find_subcommand("keys").unwrap();
        let commands = [
            cli.find_subcommand("serve").unwrap(),
            cli.find_subcommand("migrate").unwrap(),
        ];
        for cmd in commands
            .into_iter()
            .chain(admin.get_subcommands())
            .chain(keys.get_subcommands())
        {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                // Identity of the thing being created is an argument, not configuration.
                if [
                    "help", "version", "username", "email", "role", "user", "name",
                ]
                .contains(&id)
                {
                    continue;
                }
                let env = arg
                    .get_env()
                    .unwrap_or_else(|| panic!("--{id} has no env var"));
                assert!(env.to_string_lossy().starts_with("BETFLOW_"), "{id}");
            }
        }
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("betflow-cfg-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn uuid_like() -> String {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
