use std::path::PathBuf;
use std::time::Duration;

use crate::StoreError;

/// Which engine a [`StoreConfig`] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgres://…`, `sqlite://…`, or `None` for the embedded SQLite file in `data_dir`.
    pub url: Option<String>,
    /// Where the embedded SQLite database lives when `url` is `None`.
    pub data_dir: PathBuf,
    pub max_connections: u32,
    /// How long to keep retrying an unreachable database before giving up.
    pub connect_timeout: Duration,
    /// How long a SQLite writer waits for the write lock.
    pub sqlite_busy_timeout: Duration,
}

impl StoreConfig {
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: None,
            data_dir: data_dir.into(),
            max_connections: 10,
            connect_timeout: Duration::from_secs(30),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }

    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::embedded("betflow-data")
        }
    }

    pub fn backend(&self) -> Result<Backend, StoreError> {
        match self.url.as_deref() {
            None => Ok(Backend::Sqlite),
            Some(u) if u.starts_with("sqlite:") => Ok(Backend::Sqlite),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Backend::Postgres)
            }
            Some(u) => Err(StoreError::Config(format!(
                "unsupported database URL {}: expected postgres://… or sqlite://…",
                redact_url(u)
            ))),
        }
    }

    /// The SQLite file this configuration points at (the embedded default when `url` is unset).
    pub fn sqlite_path(&self) -> PathBuf {
        match self.url.as_deref().and_then(|u| u.strip_prefix("sqlite:")) {
            Some(rest) => PathBuf::from(
                rest.trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or(""),
            ),
            None => self.data_dir.join("betflow.db"),
        }
    }

    /// A description safe to log: the file for SQLite, the URL without its password otherwise.
    pub fn describe(&self) -> String {
        match self.url.as_deref() {
            Some(u) if !u.starts_with("sqlite:") => redact_url(u),
            _ => format!("sqlite {}", self.sqlite_path().display()),
        }
    }
}

/// Hides the password in a connection URL so it can be logged or shown in an error.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{}://{}@{}", &url[..scheme_end], masked, &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/app?sslmode=require"),
            "postgres://bob:***@db:5432/app?sslmode=require"
        );
        assert_eq!(redact_url("postgres://bob@db/app"), "postgres://bob@db/app");
        assert_eq!(redact_url("postgres://db/app"), "postgres://db/app");
        assert_eq!(redact_url("not a url"), "not a url");
        assert!(!redact_url("redis://:pw@host:6379").contains("pw"));
    }

    #[test]
    fn chooses_backend_from_url() {
        assert_eq!(
            StoreConfig::embedded("x").backend().unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            StoreConfig::with_url("postgresql://h/db")
                .backend()
                .unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            StoreConfig::with_url("sqlite:///tmp/a.db?mode=rwc").sqlite_path(),
            PathBuf::from("/tmp/a.db")
        );
        assert!(StoreConfig::with_url("mysql://h/db").backend().is_err());
    }
}
