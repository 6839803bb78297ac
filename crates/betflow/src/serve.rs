//! `betflow serve` and `betflow migrate`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use betflow_api::HttpConfig;
use betflow_domain::audit::{Severity, SystemEvent};
use betflow_engine::Engine;
use betflow_store::redis::RedisHandle;
use betflow_store::{Store, StoreConfig};

use crate::config::{
    AdminCommand, CreateApiKeyArgs, CreateUserArgs, ENCRYPTION_KEY_FILE, KeysCommand, MigrateArgs,
    ProcessRole, RotateKeysArgs, Secret, SecretSource, ServeArgs, resolve_encryption_keys,
    resolve_jwt_secret, write_key_file,
};
use crate::telemetry;

async fn open_store(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    tracing::info!(database = %config.describe(), "connecting to database");
    let store = betflow_store::connect(config)
        .await
        .with_context(|| format!("cannot open the database ({})", config.describe()))?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    let config = args.db.store_config();
    let store = open_store(&config).await?;
    store.close().await;
    println!("migrations applied to {}", config.describe());
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    let store_config = args.db.store_config();
    let backend = store_config.backend()?;
    // Checked before waiting on the database so a misconfigured node fails at once.
    let (jwt_secret, secret_source) =
        resolve_jwt_secret(args.jwt_secret.as_deref(), backend, &args.db.data_dir)?;
    let (encryption, key_source) =
        resolve_encryption_keys(&args.encryption, backend, &args.db.data_dir)?;
    let engine_config = args.engine_config(&jwt_secret, encryption)?;
    let http = HttpConfig {
        cors_origins: args
            .cors_origins
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        body_limit: args.body_limit,
        request_timeout: args.request_timeout,
        debug_routes: args.debug_routes,
        limits: betflow_api::auth::Limits {
            api: args.auth.rate_limit,
            login: args.auth.login_rate_limit,
            register: args.auth.register_rate_limit,
        },
        trusted_proxies: args.trusted_proxies.clone(),
        serve_api: args.workflows.runs(ProcessRole::Api),
        socket_auth_grace: args.socket_auth_grace,
    };

    let store = open_store(&store_config).await?;
    let redis = match args.redis_url.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(url) => {
            let handle = RedisHandle::new(url)?;
            if let Err(e) = handle.ping(betflow_engine::READINESS_TIMEOUT).await {
                tracing::warn!(error = %e, "Redis is not reachable yet; /ready will report it");
            }
            Some(Arc::new(handle))
        }
    };
    let betting_platform = engine_config.betting_platform.clone();
    let engine = Arc::new(Engine::new(store, redis, engine_config)?);
    let generated_admin_password = engine
        .identity()
        .ensure_admin(args.auth.admin_password.clone().filter(|p| !p.is_empty()))
        .await
        .context("cannot create the first admin user")?;
    engine
        .workflows()
        .ensure_seeded()
        .await
        .context("cannot create the seeded workflow definitions")?;
    engine
        .ensure_examples(betting_platform.as_ref())
        .await
        .context("cannot create the ready-made automations")?;
    let app = betflow_api::app(engine.clone(), &http)?;

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    print_banner(addr, &store_config, &secret_source);
    match &key_source {
        SecretSource::Configured => {}
        SecretSource::Generated(p) => {
            println!(
                "  Encryption: key generated and kept in {} (back it up)",
                p.display()
            )
        }
        SecretSource::Loaded(p) => println!("  Encryption: key read from {}", p.display()),
    }
    let roles: Vec<&str> = args
        .workflows
        .roles
        .iter()
        .map(|r| match r {
            ProcessRole::Api => "api",
            ProcessRole::Worker => "worker",
            ProcessRole::Scheduler => "scheduler",
        })
        .collect();
    println!("  Roles:      {}", roles.join(", "));
    if let Some(password) = generated_admin_password {
        println!("  Admin:      created user 'admin' with password {password}");
        println!("              (shown once: log in and change it, or set BETFLOW_ADMIN_PASSWORD)");
    }
    record(
        &engine,
        "server.started",
        format!("betflow listening on {addr}"),
    )
    .await;

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = args.workflows.runs(ProcessRole::Worker).then(|| {
        betflow_engine::jobs::spawn(
            engine.clone(),
            format!("{}:{}", addr, std::process::id()),
            args.workflows.worker_poll,
            stop_rx.clone(),
        )
    });
    let relay = args.workflows.runs(ProcessRole::Worker).then(|| {
        engine
            .realtime()
            .spawn_relay(args.workflows.event_poll, stop_rx.clone())
    });
    let scheduler = args.workflows.runs(ProcessRole::Scheduler).then(|| {
        betflow_engine::triggers::spawn_scheduler(
            engine.triggers().clone(),
            args.workflows.scheduler_poll,
            stop_rx.clone(),
        )
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    });
    let mut server = tokio::spawn(server.into_future());

    tokio::select! {
        result = &mut server => {
            result.context("server task failed")?.context("server error")?;
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, grace_ms = args.shutdown_grace.as_millis() as u64,
                "shutting down: no new connections, draining in-flight requests");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(args.shutdown_grace, &mut server).await {
                Ok(result) => {
                    result.context("server task failed")?.context("server error")?;
                    tracing::info!("in-flight requests drained");
                }
                Err(_) => {
                    server.abort();
                    tracing::warn!("shutdown grace period elapsed; remaining requests aborted");
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    if let Some(relay) = relay
        && tokio::time::timeout(std::time::Duration::from_secs(5), relay)
            .await
            .is_err()
    {
        tracing::warn!("event relay did not stop in time; undelivered events stay in the outbox");
    }
    if let Some(scheduler) = scheduler
        && tokio::time::timeout(std::time::Duration::from_secs(5), scheduler)
            .await
            .is_err()
    {
        tracing::warn!("scheduler did not stop in time; due schedules fire on the next start");
    }
    if let Some(worker) = worker
        && tokio::time::timeout(std::time::Duration::from_secs(10), worker)
            .await
            .is_err()
    {
        tracing::warn!(
            "job worker did not stop in time; its jobs return to the queue when their lease expires"
        );
    }
    record(&engine, "server.stopped", "betflow stopped".to_owned()).await;
    engine.shutdown().await;
    tracing::info!("database pool closed; bye");
    Ok(())
}

async fn record(engine: &Engine, event_type: &str, message: String) {
    let details = serde_json::json!({ "version": env!("CARGO_PKG_VERSION") });
    let result = match SystemEvent::new(event_type, Severity::Info, message, Some(details)) {
        Ok(ev) => engine
            .record_system_event(&ev)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, event_type, "could not record system event");
    }
}

fn print_banner(addr: SocketAddr, store: &StoreConfig, secret: &SecretSource) {
    let base = format!("http://{addr}");
    println!("betflow {} listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("  API docs:   {base}/api-docs");
    println!("  Health:     {base}/health   (readiness: {base}/ready)");
    println!("  Data:       {}", store.describe());
    match secret {
        SecretSource::Configured => {}
        SecretSource::Generated(p) => {
            println!("  JWT secret: generated and kept in {}", p.display())
        }
        SecretSource::Loaded(p) => println!("  JWT secret: read from {}", p.display()),
    }
}

async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => "SIGINT",
        _ = term => "SIGTERM",
    }
}

pub async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser(args) => create_user(args).await,
        AdminCommand::CreateApiKey(args) => create_api_key(args).await,
    }
}

pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate(args) => rotate_keys(args).await,
    }
}

/// `betflow keys rotate`: re-encrypts every stored secret under the current key.
async fn rotate_keys(args: RotateKeysArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    let store_config = args.db.store_config();
    let backend = store_config.backend()?;
    let data_dir = &args.db.data_dir;
    if args.generate {
        if backend != betflow_store::Backend::Sqlite
            || args
                .encryption
                .encryption_key
                .as_deref()
                .is_some_and(|k| !k.trim().is_empty())
        {
            anyhow::bail!(
                "--generate rotates the embedded default's key file; with a configured key, set \
                 BETFLOW_ENCRYPTION_KEY to the new key and BETFLOW_PREVIOUS_ENCRYPTION_KEYS to \
                 the old one"
            );
        }
        let (old, _) = resolve_encryption_keys(&args.encryption, backend, data_dir)?;
        let new = betflow_engine::secrets::EncryptionKey::generate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut keys = vec![new];
        keys.extend(old.key);
        keys.extend(old.previous);
        write_key_file(&data_dir.join(ENCRYPTION_KEY_FILE), &keys)?;
        println!(
            "generated a new key ({}) into {}",
            keys[0].id(),
            data_dir.join(ENCRYPTION_KEY_FILE).display()
        );
    }
    let (encryption, _) = resolve_encryption_keys(&args.encryption, backend, data_dir)?;
    let current = encryption.key.clone();
    let store = open_store(&store_config).await?;
    let config = betflow_engine::EngineConfig {
        identity: betflow_engine::identity::IdentityConfig::new(
            Secret::ephemeral().expose().as_bytes().to_vec(),
        ),
        encryption,
        ..Default::default()
    };
    let engine = Engine::new(store, None, config)?;
    let limit = (args.limit > 0).then_some(args.limit);
    let report = engine
        .credentials()
        .rotate_keys(limit)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    record(
        &engine,
        "keys.rotated",
        format!(
            "stored secrets re-encrypted under key {}: {} credentials, {} secret variables, {} \
             webhook endpoints, {} inbound endpoints{}",
            engine.keyring().current_id(),
            report.credentials,
            report.variables,
            report.webhooks,
            report.inbound_endpoints,
            if report.remaining {
                " (stopped at the limit)"
            } else {
                ""
            }
        ),
    )
    .await;
    engine.shutdown().await;
    println!(
        "re-encrypted under key {}: {} credentials, {} secret variables, {} webhook endpoints, \
         {} inbound endpoints ({} changed meanwhile and were left as written)",
        engine.keyring().current_id(),
        report.credentials,
        report.variables,
        report.webhooks,
        report.inbound_endpoints,
        report.skipped
    );
    if report.remaining {
        println!("stopped at the limit: run `betflow keys rotate` again to continue");
        return Ok(());
    }
    println!("done: every stored secret is under the current key; older keys can be retired");
    // The embedded key file no longer needs its older keys.
    let path = data_dir.join(ENCRYPTION_KEY_FILE);
    if backend == betflow_store::Backend::Sqlite
        && args
            .encryption
            .encryption_key
            .as_deref()
            .is_none_or(|k| k.trim().is_empty())
        && let Some(key) = current
        && path.exists()
    {
        write_key_file(&path, &[key])?;
    }
    Ok(())
}

fn cli_actor() -> betflow_domain::audit::Actor {
    betflow_domain::audit::Actor {
        user_agent: Some(format!("betflow-cli/{}", env!("CARGO_PKG_VERSION"))),
        ..Default::default()
    }
}

async fn cli_engine(db: &crate::config::DatabaseArgs) -> anyhow::Result<Engine> {
    let store = open_store(&db.store_config()).await?;
    let config = betflow_engine::EngineConfig {
        identity: betflow_engine::identity::IdentityConfig::new(
            Secret::ephemeral().expose().as_bytes().to_vec(),
        ),
        ..Default::default()
    };
    Ok(Engine::new(store, None, config)?)
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    let engine = cli_engine(&args.db).await?;
    let role = args.role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let generated = args.password.is_none();
    let password = args
        .password
        .unwrap_or_else(betflow_engine::identity::secrets::generate_password);
    let user = engine
        .identity()
        .create_user(
            betflow_engine::identity::NewUser {
                username: args.username,
                email: args.email,
                password: password.clone(),
                role,
                permissions: args.permissions,
            },
            &cli_actor(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created user {} ({}) with role {}",
        user.username, user.id, user.role
    );
    if generated {
        println!("password (shown once): {password}");
    }
    engine.shutdown().await;
    Ok(())
}

async fn create_api_key(args: CreateApiKeyArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    let engine = cli_engine(&args.db).await?;
    let owner = engine
        .identity()
        .find_user_id(&args.user)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (key, secret) = engine
        .identity()
        .create_api_key(
            owner,
            betflow_engine::identity::NewApiKey {
                name: args.name,
                permissions: args.permissions,
                expires_in: args.expires_in,
            },
            &cli_actor(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created API key {} ({}) for {}",
        key.name, key.id, args.user
    );
    println!("permissions: {}", key.permissions.join(","));
    if let Some(exp) = key.expires_at {
        println!("expires: {}", exp.to_rfc3339());
    }
    println!("key (shown once): {secret}");
    engine.shutdown().await;
    Ok(())
}
