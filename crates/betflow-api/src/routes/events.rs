//! `GET /api/v1/events/stream`: domain events as Server-Sent Events, for clients that cannot
//! speak socket.io. Resumes from `Last-Event-ID` out of the outbox.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use betflow_domain::DomainError;
use betflow_domain::events::{Address, Event, matches, valid_pattern};
use betflow_engine::Engine;
use betflow_engine::identity::Principal;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Authorized;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::realtime::RealtimeStats;

crate::permissions! { Realtime => ["realtime:read"]; }

/// Events replayed per outbox read while catching up.
const REPLAY_PAGE: u32 = 500;
/// Comment lines keep proxies from closing an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Comma-separated event types (`workflow.created`) or `prefix.*` wildcards, or `*`, each
    /// at most 100 characters, surrounding white space and empty entries ignored; default
    /// every type.
    #[param(
        pattern = r"^[\t\n\x0B\x0C\r ,\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*((\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)([\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*,[\t\n\x0B\x0C\r ,\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?))*)?[\t\n\x0B\x0C\r ,\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub types: Option<String>,
    /// Only events about this workflow.
    pub workflow_id: Option<Uuid>,
    /// Resume after this event `seq` (as the `Last-Event-ID` header, which wins).
    #[param(minimum = 0)]
    pub last_event_id: Option<i64>,
}

struct Filter {
    types: Vec<String>,
    workflow_id: Option<Uuid>,
    principal: Principal,
}

impl Filter {
    fn wants(&self, e: &Event) -> bool {
        (self.types.is_empty() || self.types.iter().any(|p| matches(p, &e.event_type)))
            && self
                .workflow_id
                .is_none_or(|w| e.is_for(&Address::Workflow(w)))
            && betflow_engine::realtime::Realtime::may_see(&self.principal, e)
    }
}

struct Stream_ {
    engine: Arc<Engine>,
    live: tokio::sync::broadcast::Receiver<Arc<Event>>,
    filter: Filter,
    /// The newest `seq` this client has been given (or skipped).
    last: i64,
    replaying: bool,
    ready: VecDeque<Arc<Event>>,
    stats: Arc<RealtimeStats>,
}

impl Drop for Stream_ {
    fn drop(&mut self) {
        self.stats.sse_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.seq.to_string())
        .event(e.event_type.clone())
        .data(e.client_view().to_string())
}

/// Replays from the outbox while behind, then follows the hub; a client that falls too far
/// behind the hub goes back to the outbox, so it never silently misses an event.
fn events(st: Stream_) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(e) = st.ready.pop_front() {
                st.last = st.last.max(e.seq);
                st.stats.sse_deliveries.fetch_add(1, Ordering::Relaxed);
                return Some((Ok(sse(&e)), st));
            }
            if st.replaying {
                let page = match st
                    .engine
                    .realtime()
                    .events_after(st.last, REPLAY_PAGE)
                    .await
                {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream replay failed; closing it");
                        return None;
                    }
                };
                st.replaying = page.len() == REPLAY_PAGE as usize;
                for e in page {
                    if st.filter.wants(&e) {
                        st.ready.push_back(Arc::new(e));
                    } else {
                        st.last = st.last.max(e.seq);
                    }
                }
                continue;
            }
            match st.live.recv().await {
                Ok(e) if e.seq <= st.last => {}
                Ok(e) if st.filter.wants(&e) => st.ready.push_back(e),
                Ok(e) => st.last = e.seq,
                Err(RecvError::Lagged(_)) => st.replaying = true,
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

fn last_event_id(headers: &HeaderMap, query: Option<i64>) -> Result<Option<i64>, ApiError> {
    let invalid = |field: &str| -> ApiError {
        DomainError::invalid(field, "must be an event seq (a whole number)").into()
    };
    match headers.get("last-event-id") {
        None if query.is_some_and(|q| q < 0) => Err(invalid("lastEventId")),
        None => Ok(query),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| invalid("Last-Event-ID")),
    }
}

#[utoipa::path(get, path = "/api/v1/events/stream", tag = "realtime",
    summary = "Stream events (Server-Sent Events)",
    description = "Requires `realtime:read`; workflow events also need `workflows:read`. Each \
                   SSE message has `id` (the event's seq), `event` (its type) and `data` \
                   (`{id, seq, type, timestamp, data}`). Reconnect with `Last-Event-ID` to get \
                   what was missed, from the outbox. A comment line every 15 s keeps the \
                   connection open.",
    params(StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0,
            description = "Resume after this event `seq`; wins over `lastEventId`")),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "An endless stream of `id:`/`event:`/`data:` messages and keep-alive comments")))]
pub async fn stream(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Realtime>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let types: Vec<String> = q
        .types
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = types.iter().find(|t| !valid_pattern(t)) {
        return Err(DomainError::invalid(
            "types",
            format!("{bad:?} is not an event type or a `prefix.*` wildcard"),
        )
        .into());
    }
    let resume = last_event_id(&headers, q.last_event_id)?;
    // Subscribe before reading the outbox so nothing falls between the two.
    let live = state.engine.realtime().hub().subscribe();
    let last = match resume {
        Some(seq) => seq,
        None => state.engine.realtime().last_event_seq().await?,
    };
    let st = Stream_ {
        engine: state.engine.clone(),
        live,
        filter: Filter {
            types,
            workflow_id: q.workflow_id,
            principal,
        },
        last,
        replaying: resume.is_some(),
        ready: VecDeque::new(),
        stats: state.realtime.stats.clone(),
    };
    st.stats.sse_streams.fetch_add(1, Ordering::Relaxed);
    Ok(Sse::new(events(st)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

crate::permissions! { Monitor => ["workflows:monitor"]; }

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeStatsResponse {
    /// socket.io connections on this node (the seed's getStats).
    pub total_connections: usize,
    pub authenticated_connections: usize,
    /// Rooms with at least one socket on this node.
    pub rooms: Vec<String>,
    /// Open SSE streams on this node.
    pub sse_streams: u64,
    /// Events this node's hub has received from the relay.
    pub events_published: u64,
    /// Deliveries to sockets (an event to three sockets counts three) and SSE streams.
    pub events_delivered: u64,
    pub socket_deliveries: u64,
    pub sse_deliveries: u64,
}

#[utoipa::path(get, path = "/api/v1/realtime/stats", tag = "realtime",
    summary = "Real-time connection statistics",
    description = "Requires `workflows:monitor`. Figures are for the node that answers.",
    responses((status = 200, description = "This node's figures",
        body = crate::envelope::Envelope<RealtimeStatsResponse>)))]
pub async fn stats(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
) -> Result<crate::envelope::ApiResponse<RealtimeStatsResponse>, ApiError> {
    let rt = &state.realtime;
    let (total, authenticated) = rt.connections();
    let socket = rt.stats.socket_deliveries.load(Ordering::Relaxed);
    let sse = rt.stats.sse_deliveries.load(Ordering::Relaxed);
    Ok(crate::envelope::ApiResponse::ok(RealtimeStatsResponse {
        total_connections: total,
        authenticated_connections: authenticated,
        rooms: rt.rooms().await,
        sse_streams: rt.stats.sse_streams.load(Ordering::Relaxed),
        events_published: state.engine.realtime().hub().published(),
        events_delivered: socket + sse,
        socket_deliveries: socket,
        sse_deliveries: sse,
    }))
}

/// The real-time routes (the event stream and its statistics), with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(stream))
        .routes(utoipa_axum::routes!(stats))
}
