//! socket.io at `/socket.io/` (Engine.IO v4, socket.io v5), speaking seed 001's protocol:
//! authenticate with the JWT as handshake `auth.token` or an `authenticate` event; the server
//! answers `authenticated {userId}` or `authentication_error {message}`. Rooms:
//! `user:{id}` and `role:{role}` (joined on authentication), `workflow:{id}` (`subscribe` /
//! `unsubscribe`, answered by `subscribed` / `unsubscribed` or `error`).
//!
//! Events reach a socket only through rooms it was allowed into, so every event it receives
//! is one it may read. Each is emitted as `(payload, meta)`: the payload is the seed's shape
//! (a handler `(workflow) => ...` works unchanged), `meta` is `{id, seq, type, timestamp}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use betflow_domain::events::{Address, Event};
use betflow_engine::Engine;
use betflow_engine::identity::{Presented, Principal};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// What `GET /realtime/stats` reports, shared with the SSE streams.
#[derive(Default)]
pub struct RealtimeStats {
    /// Event deliveries to sockets (one event to three sockets counts three).
    pub socket_deliveries: AtomicU64,
    /// Events sent down SSE streams.
    pub sse_deliveries: AtomicU64,
    pub sse_streams: AtomicU64,
}

#[derive(Clone)]
pub struct Realtime {
    pub io: SocketIo,
    pub stats: Arc<RealtimeStats>,
}

impl Realtime {
    /// Sockets connected to this node, and how many have authenticated.
    pub fn connections(&self) -> (usize, usize) {
        let sockets = self.io.sockets();
        let authenticated = sockets
            .iter()
            .filter(|s| s.extensions.get::<Arc<Principal>>().is_some())
            .count();
        (sockets.len(), authenticated)
    }

    pub async fn rooms(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .io
            .rooms()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.to_string())
            .collect();
        rooms.sort();
        rooms
    }
}

fn user_room(id: Uuid) -> String {
    Address::User(id).to_string()
}

fn workflow_room(id: Uuid) -> String {
    Address::Workflow(id).to_string()
}

fn role_room(role: &str) -> String {
    Address::Role(role.to_owned()).to_string()
}

/// The rooms an event goes to: its addresses, whose string forms are the room names (a
/// workflow event's are its workflow's watchers, the workflow's creator, and the roles it
/// concerns, such as a task's assignees).
fn rooms_for(e: &Event) -> Vec<String> {
    e.to.iter().map(Address::to_string).collect()
}

fn token_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("token").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
    .map(|t| t.trim().trim_start_matches("Bearer ").trim().to_owned())
    .filter(|t| !t.is_empty())
}

async fn authenticate(engine: &Engine, socket: &SocketRef, token: Option<String>) {
    let Some(token) = token else {
        let _ = socket.emit(
            "authentication_error",
            &json!({"message": "a token is required"}),
        );
        return;
    };
    match engine
        .identity()
        .authenticate(Presented::Bearer(token))
        .await
    {
        Ok(p) if p.has("realtime:read") => {
            // Every event so far is about a workflow, so without workflows:read a socket
            // joins no room and receives nothing.
            if p.has("workflows:read") {
                socket.join([user_room(p.user_id), role_room(p.role.as_str())]);
            }
            let user_id = p.user_id;
            socket.extensions.insert(Arc::new(p));
            let _ = socket.emit("authenticated", &json!({"userId": user_id}));
        }
        Ok(_) => {
            let _ = socket.emit(
                "authentication_error",
                &json!({"message": "the realtime:read permission is required"}),
            );
        }
        Err(_) => {
            let _ = socket.emit(
                "authentication_error",
                &json!({"message": "invalid or expired token"}),
            );
        }
    }
}

fn workflow_id_of(v: &Value) -> Option<Uuid> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Object(m) => m
            .get("workflowId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        _ => None,
    }
}

/// After the namespace connect: handshake authentication, and the grace-period timer.
fn on_connected(engine: Arc<Engine>, socket: SocketRef, auth: Option<Value>, grace: Duration) {
    if let Some(token) = auth.as_ref().and_then(token_of) {
        let (engine, socket) = (engine.clone(), socket.clone());
        tokio::spawn(async move { authenticate(&engine, &socket, Some(token)).await });
    }
    // A socket that has not authenticated within the grace period is dropped.
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        if socket.connected() && socket.extensions.get::<Arc<Principal>>().is_none() {
            let _ = socket.emit(
                "authentication_error",
                &json!({"message": "not authenticated in time"}),
            );
            let _ = socket.disconnect();
        }
    });
}

/// Registers the socket's event handlers. Runs as connect middleware, before the client is
/// told it is connected, so no event it sends can arrive before its handler exists.
fn register_handlers(engine: Arc<Engine>, socket: &SocketRef) {
    {
        let engine = engine.clone();
        socket.on(
            "authenticate",
            move |s: SocketRef, TryData(d): TryData<Value>| {
                let engine = engine.clone();
                async move {
                    let token = d.ok().as_ref().and_then(token_of);
                    authenticate(&engine, &s, token).await;
                }
            },
        );
    }
    socket.on(
        "subscribe",
        |s: SocketRef, TryData(d): TryData<Value>| async move {
            let principal = s.extensions.get::<Arc<Principal>>();
            let id = d.ok().as_ref().and_then(workflow_id_of);
            match (principal, id) {
                (None, _) => {
                    let _ = s.emit("error", &json!({"message": "authenticate first"}));
                }
                (Some(p), _) if !p.has("workflows:read") => {
                    let _ = s.emit(
                        "error",
                        &json!({"message": "the workflows:read permission is required"}),
                    );
                }
                (Some(_), None) => {
                    let _ = s.emit(
                        "error",
                        &json!({"message": "subscribe takes a workflow id"}),
                    );
                }
                (Some(_), Some(id)) => {
                    s.join(workflow_room(id));
                    let _ = s.emit("subscribed", &json!({"workflowId": id}));
                }
            }
        },
    );
    socket.on(
        "unsubscribe",
        |s: SocketRef, TryData(d): TryData<Value>| async move {
            match d.ok().as_ref().and_then(workflow_id_of) {
                Some(id) => {
                    s.leave(workflow_room(id));
                    let _ = s.emit("unsubscribed", &json!({"workflowId": id}));
                }
                None => {
                    let _ = s.emit(
                        "error",
                        &json!({"message": "unsubscribe takes a workflow id"}),
                    );
                }
            }
        },
    );
}

/// The socket.io layer, and the task that forwards this node's events to its sockets.
pub fn layer(engine: Arc<Engine>, auth_grace: Duration) -> (SocketIoLayer, Realtime) {
    // Clients send small messages (auth, subscribe), so small per-connection buffers keep
    // 10,000 idle sockets cheap.
    let (layer, io) = SocketIo::builder()
        .ws_read_buffer_size(1024)
        .max_buffer_size(64)
        .build_layer();
    {
        let (engine, engine_mw) = (engine.clone(), engine.clone());
        let connected = move |socket: SocketRef, TryData(auth): TryData<Value>| {
            let engine = engine.clone();
            async move { on_connected(engine, socket, auth.ok(), auth_grace) }
        };
        let register = move |socket: SocketRef| {
            let engine = engine_mw.clone();
            async move {
                register_handlers(engine, &socket);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        io.ns("/", connected.with(register));
    }
    let realtime = Realtime {
        io: io.clone(),
        stats: Arc::new(RealtimeStats::default()),
    };
    let stats = realtime.stats.clone();
    let mut events = engine.realtime().hub().subscribe();
    tokio::spawn(async move {
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "socket.io fan-out fell behind; events skipped");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let rooms = rooms_for(&e);
            if rooms.is_empty() {
                continue;
            }
            let targets = io.to(rooms.clone()).sockets().len();
            if targets == 0 {
                continue;
            }
            let meta = json!({"id": e.id, "seq": e.seq, "type": e.event_type,
                "timestamp": e.timestamp});
            match io.to(rooms).emit(&e.event_type, &(&e.data, &meta)).await {
                Ok(()) => {
                    stats
                        .socket_deliveries
                        .fetch_add(targets as u64, Ordering::Relaxed);
                }
                Err(err) => tracing::warn!(error = ?err, "socket.io broadcast failed"),
            }
        }
    });
    (layer, realtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_as_a_string_or_an_object() {
        assert_eq!(token_of(&json!("abc")), Some("abc".into()));
        assert_eq!(
            token_of(&json!({"token": "Bearer abc"})),
            Some("abc".into())
        );
        assert_eq!(token_of(&json!({"token": ""})), None);
        assert_eq!(token_of(&json!(null)), None);
        let id = Uuid::now_v7();
        assert_eq!(workflow_id_of(&json!(id.to_string())), Some(id));
        assert_eq!(workflow_id_of(&json!({"workflowId": id})), Some(id));
        assert_eq!(workflow_id_of(&json!("nope")), None);
    }
}
