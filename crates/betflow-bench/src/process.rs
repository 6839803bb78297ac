//! Starting server processes and reading their resource use.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server and the URL it printed.
pub struct Running {
    pub child: Child,
    pub base: String,
}

impl Running {
    /// Resident set size in KiB, from /proc (Linux only).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc status")
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(())
    }
}

/// Starts `program args…` and waits for a stdout line containing `listening on <url>`.
pub async fn start(
    program: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> anyhow::Result<Running> {
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {}", program.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.split("listening on ").nth(1) {
                return Ok(url.trim().to_owned());
            }
        }
        bail!("{} exited before listening", program.display())
    })
    .await
    .context("server did not start within 60s")??;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Running { child, base })
}

/// Polls `url` until it answers 200; returns the time from `since`.
pub async fn wait_ready(url: &str, since: Instant) -> anyhow::Result<Duration> {
    let client = crate::load::client(1)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(res) = client.get(url).send().await
            && res.status().is_success()
        {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            bail!("{url} not ready within 60s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
