//! Live events over HTTP: the SSE stream, its filters, permissions and resume.

use std::time::Duration;

use crate::common::{TestServer, spawn};
use betflow_store::testing::TestDb;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(sse_streams_filters_and_resumes,);

/// One parsed SSE message.
#[derive(Debug, Clone)]
struct Message {
    id: i64,
    event: String,
    data: Value,
}

/// An open SSE response, read message by message.
struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

impl Sse {
    async fn open(s: &TestServer, token: &str, query: &str, last: Option<i64>) -> Sse {
        let mut req = s
            .client
            .get(s.url(&format!("/api/v1/events/stream?{query}")))
            .bearer_auth(token);
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Sse {
            body: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next message, skipping keep-alive comments; panics after `wait`.
    async fn next(&mut self, wait: Duration) -> Message {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (None, None, None);
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().parse().ok();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = Some(v.trim().to_owned());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data = serde_json::from_str(v.trim()).ok();
                        }
                    }
                    if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                        return Message { id, event, data };
                    }
                    continue;
                }
                let chunk = self.body.next().await.expect("stream ended").unwrap();
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("no event in time")
    }

    /// Asserts nothing arrives for `wait`.
    async fn quiet(&mut self, wait: Duration) {
        if let Ok(m) = tokio::time::timeout(wait, self.next(wait * 2)).await {
            panic!("unexpected event {m:?}");
        }
    }
}

fn content() -> Value {
    json!({"contentType": "promotion", "title": "Boost", "jurisdiction": "UK"})
}

async fn create(s: &TestServer, token: &str) -> String {
    let res = s
        .with_token(Method::POST, "/api/v1/workflows", token)
        .json(&json!({"workflowType": "content_publishing", "data": content()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sse_streams_filters_and_resumes(db: TestDb) {
    let s = spawn(db).await;
    let _relay = s.relay();
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, manager) = s.user_token(&admin, "boss", "content_manager").await;
    let (_, customer) = s.user_token(&admin, "punter", "customer").await;
    let wait = Duration::from_secs(10);

    // Without realtime:read: 403; bad filters and resume points: 400.
    let res = s
        .with_token(Method::GET, "/api/v1/events/stream", &customer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    for (query, header) in [("types=Workflow.*", None), ("", Some("yesterday"))] {
        let mut req = s.with_token(
            Method::GET,
            &format!("/api/v1/events/stream?{query}"),
            &admin,
        );
        if let Some(h) = header {
            req = req.header("Last-Event-ID", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 400, "{query} {header:?}");
    }

    let mut all = Sse::open(&s, &manager, "types=workflow.*", None).await;
    let id = create(&s, &author).await;
    let created = all.next(wait).await;
    assert_eq!(created.event, "workflow.created");
    assert_eq!(created.data["type"], "workflow.created");
    assert_eq!(created.data["seq"], created.id);
    assert_eq!(created.data["data"]["id"], id.as_str());
    assert_eq!(created.data["data"]["workflowId"], "content_publishing");
    assert_eq!(created.data["data"]["status"], "in_progress");

    // One workflow only, opened before its approval.
    let mut one = Sse::open(&s, &manager, &format!("workflowId={id}"), None).await;
    let other = create(&s, &author).await;
    let res = s
        .with_token(
            Method::POST,
            &format!("/api/v1/workflows/{id}/approve"),
            &manager,
        )
        .json(&json!({"comments": "fine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let second = all.next(wait).await;
    assert_eq!(
        (second.event.as_str(), second.data["data"]["id"].as_str()),
        ("workflow.created", Some(other.as_str()))
    );
    let approved = all.next(wait).await;
    assert_eq!(approved.event, "workflow.approved");
    assert_eq!(approved.data["data"]["workflowId"], id.as_str());
    assert_eq!(approved.data["data"]["decision"], "approved");
    assert_eq!(approved.data["data"]["comments"], "fine");
    assert_eq!(approved.data["data"]["stepId"], "content_review");
    let updated = all.next(wait).await;
    assert_eq!(updated.event, "workflow.updated");
    assert_eq!(updated.data["data"]["previousStep"], "content_review");
    assert!(created.id < second.id && second.id < approved.id && approved.id < updated.id);

    // The single-workflow stream saw its approval and its task, not the other workflow.
    let mut seen = vec![];
    for _ in 0..3 {
        let m = one.next(wait).await;
        assert_eq!(m.data["data"]["workflowId"], id.as_str(), "{m:?}");
        seen.push(m.event);
    }
    assert_eq!(
        seen,
        ["workflow.approved", "workflow.updated", "task.created"]
    );

    // Disconnect, miss two events, come back with Last-Event-ID.
    drop(all);
    let missed = create(&s, &author).await;
    let res = s
        .with_token(
            Method::POST,
            &format!("/api/v1/workflows/{missed}/cancel"),
            &admin,
        )
        .json(&json!({"reason": "duplicate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut back = Sse::open(&s, &manager, "types=workflow.*", Some(updated.id)).await;
    let first = back.next(wait).await;
    assert_eq!(
        (first.event.as_str(), first.data["data"]["id"].as_str()),
        ("workflow.created", Some(missed.as_str()))
    );
    let cancelled = back.next(wait).await;
    assert_eq!(cancelled.event, "workflow.cancelled");
    assert_eq!(cancelled.data["data"]["reason"], "duplicate");
    assert_eq!(cancelled.data["data"]["status"], "cancelled");
    back.quiet(Duration::from_millis(300)).await;

    // Live again after the replay: a new event arrives once.
    create(&s, &author).await;
    assert_eq!(back.next(wait).await.event, "workflow.created");
    back.quiet(Duration::from_millis(300)).await;
}
