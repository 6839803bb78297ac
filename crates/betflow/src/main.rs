//! The `betflow` binary: configuration, wiring and lifecycle. No business rules live here.

mod config;
mod serve;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use config::{Cli, Command};

/// mimalloc: a request allocates and frees many small blocks across threads; glibc's malloc
/// took a tenth of the server's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h): how long freed memory stays committed.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once. Each Argon2id hash takes 19 MiB; by default
/// mimalloc purges freed spans only on later allocation activity, so a login burst (or the
/// admin's hash at start-up) left an idle server tens of MiB larger. Measured: no cost in
/// throughput (docs/benchmarks.md).
fn tune_allocator() {
    // SAFETY: sets one allocator option to a valid value; called first thing in `main`.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::serve(*args).await,
            Command::Migrate(args) => serve::migrate(args).await,
            Command::Admin(command) => serve::admin(command).await,
            Command::Keys(command) => serve::keys(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
