//! `email.send` against a real SMTP server on loopback: aiosmtpd (PyPI), started by the test
//! from the Python named by `BETFLOW_TEST_AIOSMTPD` (`.ci/run` installs a pinned aiosmtpd into
//! `target/smtp-venv` and sets it), writing every message it accepts to a maildir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use betflow_domain::ids::WorkflowId;
use betflow_store::testing::TestDb;
use serde_json::json;

use super::{done, engine, run, secret};

const AIOSMTPD_VAR: &str = "BETFLOW_TEST_AIOSMTPD";

betflow_store::conformance!(
    an_email_reaches_the_smtp_server,
    smtp_failures_are_classified,
);

/// A running aiosmtpd, killed when dropped, and the maildir it writes to.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn python() -> Option<PathBuf> {
    let p = std::env::var(AIOSMTPD_VAR).ok().filter(|s| !s.is_empty())?;
    Some(PathBuf::from(p))
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn smtp_server(python: &Path) -> SmtpServer {
    let port = free_port().await;
    let maildir = std::env::temp_dir().join(format!("betflow-smtp-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&maildir).unwrap();
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.join("box"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{AIOSMTPD_VAR}={}: cannot start: {e}", python.display()));
    let server = SmtpServer {
        child,
        port,
        maildir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not listen on 127.0.0.1:{port} within 10 s");
}

/// Every message in the maildir, as text.
fn messages(server: &SmtpServer) -> Vec<String> {
    let dir = server.maildir.join("box").join("new");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

async fn an_email_reaches_the_smtp_server(db: TestDb) {
    let Some(python) = python() else {
        eprintln!("{AIOSMTPD_VAR} unset: the SMTP test against aiosmtpd did not run");
        return;
    };
    let server = smtp_server(&python).await;
    let engine = engine(db.store.clone(), true);
    let cred = secret(
        "smtp",
        json!({"host": "127.0.0.1", "port": server.port, "tls": "none",
               "from": "Betflow <robot@betflow.test>"}),
    );
    let config = json!({
        "credentialId": cred.id,
        "to": "trader@betflow.test",
        "cc": ["desk@betflow.test"],
        "subject": "Exposure alert: market 42",
        "text": "Market 42 is suspended.",
        "html": "<p>Market 42 is <b>suspended</b>.</p>",
    });
    let out = done(
        run(
            &engine,
            "email.send",
            WorkflowId::new(),
            1,
            &config,
            Some(&cred),
        )
        .await,
    );
    assert_eq!(
        out["recipients"],
        json!(["trader@betflow.test", "desk@betflow.test"])
    );
    assert!(
        out["response"].as_str().unwrap().starts_with("250"),
        "{out}"
    );
    let id = out["messageId"].as_str().unwrap().to_owned();
    let mut found = Vec::new();
    for _ in 0..100 {
        found = messages(&server);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found.len(), 1, "one message arrived");
    let m = &found[0];
    assert!(m.contains("Subject: Exposure alert: market 42"), "{m}");
    assert!(m.contains("To: trader@betflow.test"), "{m}");
    assert!(m.contains("Cc: desk@betflow.test"), "{m}");
    assert!(m.contains("robot@betflow.test"), "{m}");
    assert!(m.contains(&format!("Message-ID: {id}")), "{m}");
    assert!(m.contains("Market 42 is suspended."), "{m}");
    // aiosmtpd's Mailbox handler records the envelope's recipients.
    assert!(
        m.contains("X-RcptTo: trader@betflow.test, desk@betflow.test"),
        "{m}"
    );
}

async fn smtp_failures_are_classified(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let exec = WorkflowId::new();
    let port = free_port().await;
    let cred = secret(
        "smtp",
        json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": "robot@betflow.test",
               "username": "robot", "password": "smtp-s3cret"}),
    );
    let config = json!({"credentialId": cred.id, "to": "a@b.test", "subject": "s", "text": "t"});
    // Nothing listens: retryable, and the password is nowhere.
    let err = run(&engine, "email.send", exec, 1, &config, Some(&cred))
        .await
        .unwrap_err();
    assert!(err.retryable, "{err:?}");
    assert!(!err.message.contains("s3cret"), "{}", err.message);
    let cases = [
        (
            json!({"credentialId": cred.id, "to": "a@b.test", "subject": "s"}),
            "text or html",
        ),
        (
            json!({"credentialId": cred.id, "to": "not an address", "subject": "s", "text": "t"}),
            "not an address",
        ),
        (
            json!({"credentialId": cred.id, "subject": "s", "text": "t"}),
            "missing field `to`",
        ),
    ];
    for (config, says) in cases {
        let err = run(&engine, "email.send", exec, 1, &config, Some(&cred))
            .await
            .unwrap_err();
        assert!(!err.retryable, "{config}: {err:?}");
        assert!(err.message.contains(says), "{config}: {}", err.message);
    }
    let err = run(&engine, "email.send", exec, 1, &config, None)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("needs a credential of type smtp"),
        "{}",
        err.message
    );
    let bad_tls = secret(
        "smtp",
        json!({"host": "h", "tls": "maybe", "from": "a@b.test"}),
    );
    let err = run(&engine, "email.send", exec, 1, &config, Some(&bad_tls))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("none, starttls or tls"),
        "{}",
        err.message
    );
}
