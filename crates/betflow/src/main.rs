//! The `betflow` binary: configuration, wiring and lifecycle. No business rules live here.

mod config;
mod serve;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use config::{Cli, Command};

/// Makes glibc hand large blocks (each Argon2id hash takes 19 MiB) back to the system when
/// they are freed. By default glibc raises its mmap threshold after the first such block and
/// keeps the later ones in its heaps: a login burst left the process hundreds of MiB larger
/// for good.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called once, before any thread
    // starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
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
