//! socket.io, spoken raw (Engine.IO v4 over a WebSocket, socket.io v5 packets) so the test
//! checks the wire protocol the official client uses, not a client library's view of it.

use std::time::Duration;

use crate::common::{TestServer, spawn, spawn_with, test_config};
use betflow_store::testing::{self, TestDb};
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

betflow_store::conformance!(
    sockets_get_the_events_they_may_read,
    roles_hear_of_their_tasks_and_nothing_else,
    authentication_by_event_and_its_failures,
);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket.io client on the default namespace.
struct Socket {
    ws: Ws,
}

impl Socket {
    /// Opens the WebSocket transport and connects to `/`, with `auth` as the handshake data.
    async fn connect(s: &TestServer, auth: Option<Value>) -> Socket {
        let url = s
            .url("/socket.io/?EIO=4&transport=websocket")
            .replace("http://", "ws://");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut socket = Socket { ws };
        let open = socket.frame().await.expect("engine.io open");
        assert!(open.starts_with('0'), "{open}");
        let open: Value = serde_json::from_str(&open[1..]).unwrap();
        assert!(open["sid"].is_string() && open["pingInterval"].is_number());
        let connect = match auth {
            Some(a) => format!("40{a}"),
            None => "40".to_owned(),
        };
        socket.send(connect).await;
        let ack = socket.frame().await.expect("namespace connect");
        assert!(ack.starts_with("40"), "{ack}");
        socket
    }

    async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    async fn emit(&mut self, event: &str, data: Value) {
        self.send(format!("42{}", json!([event, data]))).await;
    }

    /// The next Engine.IO text frame, answering pings; `None` once the server closed.
    async fn frame(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) if t.as_str() == "2" => self.send("3".into()).await,
                Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next socket.io event: its name and arguments.
    async fn event(&mut self, wait: Duration) -> (String, Vec<Value>) {
        tokio::time::timeout(wait, async {
            loop {
                let f = self.frame().await.expect("socket closed");
                if let Some(body) = f.strip_prefix("42") {
                    let mut args: Vec<Value> = serde_json::from_str(body).unwrap();
                    let name = args.remove(0).as_str().unwrap().to_owned();
                    return (name, args);
                }
            }
        })
        .await
        .expect("no socket.io event in time")
    }

    /// The next event called `name`, skipping others.
    async fn event_named(&mut self, name: &str, wait: Duration) -> Vec<Value> {
        tokio::time::timeout(wait, async {
            loop {
                let (n, args) = self.event(wait).await;
                if n == name {
                    return args;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {name} event in time"))
    }

    async fn quiet(&mut self, wait: Duration) {
        if let Ok(e) = tokio::time::timeout(wait, self.event(wait * 2)).await {
            panic!("unexpected event {e:?}");
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

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

async fn approve(s: &TestServer, token: &str, id: &str) {
    let res = s
        .with_token(
            Method::POST,
            &format!("/api/v1/workflows/{id}/approve"),
            token,
        )
        .json(&json!({"comments": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn sockets_get_the_events_they_may_read(db: TestDb) {
    let s = spawn(db).await;
    let _relay = s.relay();
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (watcher_id, watcher) = s.user_token(&admin, "watcher", "trader").await;
    let (_, manager) = s.user_token(&admin, "boss", "content_manager").await;
    let (_, customer) = s.user_token(&admin, "punter", "customer").await;

    let mut sock = Socket::connect(&s, Some(json!({"token": watcher}))).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(
        (name.as_str(), &args[0]),
        ("authenticated", &json!({"userId": watcher_id}))
    );

    let watched = create(&s, &author).await;
    let other = create(&s, &author).await;
    s.relayed().await;
    sock.emit("subscribe", json!(watched)).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(
        (name.as_str(), &args[0]),
        ("subscribed", &json!({"workflowId": watched}))
    );
    sock.emit("subscribe", json!("not-a-uuid")).await;
    assert_eq!(sock.event(WAIT).await.0, "error");

    approve(&s, &manager, &other).await;
    approve(&s, &manager, &watched).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(name, "workflow.approved", "{args:?}");
    assert_eq!(
        args[0]["workflowId"],
        watched.as_str(),
        "the other workflow's events never came"
    );
    assert_eq!(args[0]["decision"], "approved");
    assert_eq!(args[1]["type"], "workflow.approved");
    assert!(args[1]["seq"].as_i64().unwrap() > 0);
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(name, "workflow.updated");
    assert_eq!(args[0]["currentStep"], "compliance_check");
    // The next step's task goes to the workflow's room and to compliance officers, once.
    assert_eq!(sock.event(WAIT).await.0, "task.created");
    sock.quiet(Duration::from_millis(300)).await;

    sock.emit("unsubscribe", json!({"workflowId": watched}))
        .await;
    assert_eq!(sock.event(WAIT).await.0, "unsubscribed");
    let res = s
        .with_token(
            Method::POST,
            &format!("/api/v1/workflows/{watched}/cancel"),
            &admin,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    sock.quiet(Duration::from_millis(300)).await;

    // A creator hears about their own workflows without subscribing.
    s.relayed().await;
    let mut own = Socket::connect(&s, Some(json!({"token": author}))).await;
    assert_eq!(own.event(WAIT).await.0, "authenticated");
    let mine = create(&s, &author).await;
    let (name, args) = own.event(WAIT).await;
    assert_eq!(
        (name.as_str(), args[0]["id"].as_str()),
        ("workflow.created", Some(mine.as_str()))
    );
    assert_eq!(args[0]["workflowId"], "content_publishing");

    // A customer may not use the real-time API at all.
    let mut punter = Socket::connect(&s, Some(json!({"token": customer}))).await;
    let (name, _) = punter.event(WAIT).await;
    assert_eq!(name, "authentication_error");
    punter.emit("subscribe", json!(mine)).await;
    let (name, args) = punter.event(WAIT).await;
    assert_eq!(
        (name.as_str(), &args[0]["message"]),
        ("error", &json!("authenticate first"))
    );

    let (status, stats) = {
        let res = s
            .with_token(Method::GET, "/api/v1/realtime/stats", &admin)
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    let d = &stats["data"];
    assert_eq!(d["totalConnections"], 3, "{stats}");
    assert_eq!(d["authenticatedConnections"], 2, "{stats}");
    assert!(
        d["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &json!(format!("user:{watcher_id}")))
    );
    assert!(d["socketDeliveries"].as_u64().unwrap() >= 4, "{stats}");
    let res = s
        .with_token(Method::GET, "/api/v1/realtime/stats", &author)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// A role's room: a step's assignees hear of its task, once, and of nothing else about a
/// workflow they neither created nor watch (its `role:` address, beside the workflow's and
/// the creator's).
async fn roles_hear_of_their_tasks_and_nothing_else(db: TestDb) {
    let s = spawn(db).await;
    let _relay = s.relay();
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, manager) = s.user_token(&admin, "boss", "content_manager").await;
    let (_, checker) = s.user_token(&admin, "checker", "compliance_officer").await;
    let mut sock = Socket::connect(&s, Some(json!({"token": checker}))).await;
    assert_eq!(sock.event(WAIT).await.0, "authenticated");
    let id = create(&s, &author).await;
    approve(&s, &manager, &id).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(name, "task.created", "{args:?}");
    assert_eq!(args[0]["workflowId"], id.as_str());
    assert_eq!(args[0]["stepId"], "compliance_check");
    assert_eq!(args[1]["type"], "task.created");
    sock.quiet(Duration::from_millis(300)).await;
}

async fn authentication_by_event_and_its_failures(db: TestDb) {
    let mut cfg = test_config();
    cfg.socket_auth_grace = Duration::from_secs(2);
    let s = spawn_with(db, cfg, None).await;
    let admin = s.admin_token().await;
    let (trader_id, trader) = s.user_token(&admin, "trader", "trader").await;

    // The seed's client: connect, then `authenticate` with the token.
    let mut sock = Socket::connect(&s, None).await;
    sock.emit("authenticate", json!("not-a-jwt")).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(name, "authentication_error");
    assert!(args[0]["message"].is_string());
    sock.emit("authenticate", json!({"token": trader})).await;
    let (name, args) = sock.event(WAIT).await;
    assert_eq!(
        (name.as_str(), &args[0]),
        ("authenticated", &json!({"userId": trader_id}))
    );
    // Authenticated in time: still connected after the grace period.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    sock.emit("subscribe", json!(uuid::Uuid::now_v7())).await;
    assert_eq!(sock.event(WAIT).await.0, "subscribed");

    // Never authenticated: told, then dropped.
    let mut idle = Socket::connect(&s, None).await;
    let (name, args) = idle.event(WAIT).await;
    assert_eq!(
        (name.as_str(), &args[0]["message"]),
        ("authentication_error", &json!("not authenticated in time"))
    );
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match idle.frame().await {
                None => return true,
                Some(f) if f.starts_with("41") || f.starts_with('1') => return true,
                Some(_) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(closed);
}

/// An approval made through node A reaches a socket connected to node B, through Redis.
#[tokio::test]
async fn events_cross_nodes_through_redis() {
    let Some(redis) = testing::redis_url() else {
        eprintln!(
            "{} unset: cross-node fan-out test not run",
            testing::REDIS_URL_VAR
        );
        return;
    };
    let db = match TestDb::postgres().await {
        Some(db) => db,
        None => TestDb::sqlite().await,
    };
    let store_config = db.config.clone();
    let a = spawn_with(db, test_config(), Some(&redis)).await;
    let b = spawn_with(
        TestDb::from_store(betflow_store::connect(&store_config).await.unwrap()),
        test_config(),
        Some(&redis),
    )
    .await;
    // Only node A relays (it has the worker role); node B only listens.
    let _relay = a.relay();
    let admin = a.admin_token().await;
    let (_, author) = a.user_token(&admin, "author", "content_team").await;
    let (_, manager) = a.user_token(&admin, "boss", "content_manager").await;
    let id = create(&a, &author).await;

    let mut on_b = Socket::connect(&b, Some(json!({"token": manager}))).await;
    assert_eq!(on_b.event(WAIT).await.0, "authenticated");
    on_b.emit("subscribe", json!(id)).await;
    // The workflow's own task.created may still be on its way; skip to the reply.
    on_b.event_named("subscribed", WAIT).await;
    approve(&a, &manager, &id).await;
    let args = on_b.event_named("workflow.approved", WAIT).await;
    assert_eq!(args[0]["workflowId"], id.as_str());
    assert_eq!(args[1]["type"], "workflow.approved");
}
