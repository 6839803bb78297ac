//! Trigger request and response bodies.

use axum::http::HeaderMap;
use betflow_domain::automation::triggers::{CatchUp, Scheme};
use betflow_domain::{DomainError, Violation};
use betflow_engine::triggers::{NewTrigger, Trigger, TriggerChanges};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `null` and absent differ: absent keeps the value, `null` clears it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A trigger's kind.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKindName {
    Event,
    Schedule,
    Webhook,
}

/// What a schedule does about occurrences missed while no scheduler ran: `fire_once` starts
/// one run for them all, `skip` starts none. An occurrence fired on time runs either way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUpName {
    FireOnce,
    Skip,
}

impl From<CatchUpName> for CatchUp {
    fn from(c: CatchUpName) -> Self {
        match c {
            CatchUpName::FireOnce => Self::FireOnce,
            CatchUpName::Skip => Self::Skip,
        }
    }
}

impl From<CatchUp> for CatchUpName {
    fn from(c: CatchUp) -> Self {
        match c {
            CatchUp::FireOnce => Self::FireOnce,
            CatchUp::Skip => Self::Skip,
        }
    }
}

/// How an inbound endpoint's requests are signed: `standard` (Standard Webhooks:
/// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}">` keyed with the base64 part of the `whsec_` secret) or
/// `hmac_sha256` (the hex HMAC-SHA256 of the body, optionally `sha256=`-prefixed, in
/// `header`, keyed with the whole secret string).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemeName {
    Standard,
    HmacSha256,
}

impl From<SchemeName> for Scheme {
    fn from(s: SchemeName) -> Self {
        match s {
            SchemeName::Standard => Self::Standard,
            SchemeName::HmacSha256 => Self::HmacSha256,
        }
    }
}

impl From<Scheme> for SchemeName {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::Standard => Self::Standard,
            Scheme::HmacSha256 => Self::HmacSha256,
        }
    }
}

/// A new trigger. `kind` says which fields apply:
/// - `event`: `eventType` (required) and `filter`. Every outbox event whose type matches starts
///   one run, if the filter passes; the run's input is the event (`type`, `id`, `data`,
///   `timestamp`).
/// - `schedule`: `cron` and `timezone` (required), `catchUp`. A five-field cron (minute hour
///   day-of-month month day-of-week) or a nickname (`@daily`) on the wall clock of an IANA
///   zone, correct across daylight-saving changes; the run's input is `{scheduleId,
///   scheduledAt, cron, timezone}`.
/// - `webhook`: `name` (required), `scheme`, `header`, `toleranceSeconds`, `rateLimit`. An
///   inbound endpoint: `POST /api/v1/hooks/{id}` with a verified JSON object starts a run with
///   it as the input.
///
/// A field of another kind, or a missing required one, is refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTriggerRequest {
    pub kind: TriggerKindName,
    /// Event triggers: an event type (`workflow.completed`), a `prefix.*` wildcard (`bet.*`),
    /// or `*`.
    #[schema(
        example = "bet.*",
        max_length = 100,
        pattern = r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$"
    )]
    pub event_type: Option<String>,
    /// Event triggers: a CEL expression over `event` (`event.type`, `event.id`,
    /// `event.data`); omitted: every matching event.
    #[schema(example = "event.data.stake > 10000", max_length = 4096)]
    pub filter: Option<String>,
    /// Schedules.
    #[schema(example = "0 8 * * *", max_length = 200)]
    pub cron: Option<String>,
    /// Schedules: an IANA time zone.
    #[schema(example = "Europe/London", max_length = 64)]
    pub timezone: Option<String>,
    /// Schedules; default `fire_once`.
    pub catch_up: Option<CatchUpName>,
    /// Webhook endpoints: 1 to 100 characters.
    #[schema(example = "results feed", max_length = 100)]
    pub name: Option<String>,
    /// Webhook endpoints; default `standard`.
    pub scheme: Option<SchemeName>,
    /// Webhook endpoints: the signature header of `hmac_sha256` (default `X-Signature`).
    #[schema(
        example = "X-Signature",
        max_length = 64,
        pattern = r"^[A-Za-z0-9-]{1,64}$"
    )]
    pub header: Option<String>,
    /// Webhook endpoints: how far `webhook-timestamp` may be from now (default 300 seconds).
    #[schema(minimum = 1, maximum = 3600)]
    pub tolerance_seconds: Option<u32>,
    /// Webhook endpoints: requests per minute; omitted: unlimited.
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_limit: Option<u32>,
    /// Default `true`.
    pub is_active: Option<bool>,
}

fn required(v: &mut Vec<Violation>, field: &str, value: Option<String>, kind: &str) -> String {
    value.unwrap_or_else(|| {
        v.push(Violation::new(
            field,
            format!("is required for a {kind} trigger"),
        ));
        String::new()
    })
}

impl CreateTriggerRequest {
    pub(super) fn into_new(self) -> Result<(NewTrigger, Option<bool>), DomainError> {
        let mut v = Vec::new();
        let kind = match self.kind {
            TriggerKindName::Event => "event",
            TriggerKindName::Schedule => "schedule",
            TriggerKindName::Webhook => "webhook",
        };
        let others: [(&str, bool, &[&str]); 10] = [
            ("eventType", self.event_type.is_some(), &["event"]),
            ("filter", self.filter.is_some(), &["event"]),
            ("cron", self.cron.is_some(), &["schedule"]),
            ("timezone", self.timezone.is_some(), &["schedule"]),
            ("catchUp", self.catch_up.is_some(), &["schedule"]),
            ("name", self.name.is_some(), &["webhook"]),
            ("scheme", self.scheme.is_some(), &["webhook"]),
            ("header", self.header.is_some(), &["webhook"]),
            (
                "toleranceSeconds",
                self.tolerance_seconds.is_some(),
                &["webhook"],
            ),
            ("rateLimit", self.rate_limit.is_some(), &["webhook"]),
        ];
        for (field, set, kinds) in others {
            if set && !kinds.contains(&kind) {
                v.push(Violation::new(
                    field,
                    format!("not a field of a {kind} trigger"),
                ));
            }
        }
        let new = match self.kind {
            TriggerKindName::Event => NewTrigger::Event {
                event_type: required(&mut v, "eventType", self.event_type, kind),
                filter: self.filter,
            },
            TriggerKindName::Schedule => NewTrigger::Schedule {
                cron: required(&mut v, "cron", self.cron, kind),
                timezone: required(&mut v, "timezone", self.timezone, kind),
                catch_up: self.catch_up.map_or(CatchUp::FireOnce, CatchUp::from),
            },
            TriggerKindName::Webhook => NewTrigger::Webhook {
                name: required(&mut v, "name", self.name, kind),
                scheme: self.scheme.map_or(Scheme::Standard, Scheme::from),
                header: self.header,
                tolerance_secs: self.tolerance_seconds,
                rate_limit: self.rate_limit,
            },
        };
        if v.is_empty() {
            Ok((new, self.is_active))
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

/// Only the fields given change; each belongs to one kind of trigger.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTriggerRequest {
    pub is_active: Option<bool>,
    /// Event triggers.
    #[schema(max_length = 100, pattern = r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")]
    pub event_type: Option<String>,
    /// Event triggers; `null` removes the filter.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub filter: Option<Option<String>>,
    /// Schedules.
    #[schema(max_length = 200)]
    pub cron: Option<String>,
    /// Schedules.
    #[schema(max_length = 64)]
    pub timezone: Option<String>,
    /// Schedules.
    pub catch_up: Option<CatchUpName>,
    /// Webhook endpoints.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Webhook endpoints; `null` goes back to `X-Signature`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64, pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub header: Option<Option<String>>,
    /// Webhook endpoints.
    #[schema(minimum = 1, maximum = 3600)]
    pub tolerance_seconds: Option<u32>,
    /// Webhook endpoints; `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    pub rate_limit: Option<Option<u32>>,
}

impl UpdateTriggerRequest {
    pub(super) fn into_changes(self) -> TriggerChanges {
        TriggerChanges {
            is_active: self.is_active,
            event_type: self.event_type,
            filter: self.filter,
            cron: self.cron,
            timezone: self.timezone,
            catch_up: self.catch_up.map(CatchUp::from),
            name: self.name,
            header: self.header,
            tolerance_secs: self.tolerance_seconds,
            rate_limit: self.rate_limit,
        }
    }
}

/// A trigger. Fields of other kinds are `null`; `secret` appears only when an endpoint is
/// created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDto {
    pub id: Uuid,
    pub kind: TriggerKindName,
    pub definition_key: String,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Event triggers: the event type pattern.
    pub event_type: Option<String>,
    /// Event triggers: the CEL filter.
    pub filter: Option<String>,
    /// Schedules.
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub catch_up: Option<CatchUpName>,
    /// Schedules: the next occurrence to fire.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Webhook endpoints.
    pub name: Option<String>,
    pub scheme: Option<SchemeName>,
    pub header: Option<String>,
    pub tolerance_seconds: Option<u32>,
    pub rate_limit: Option<u32>,
    /// Webhook endpoints: the public URL senders POST to.
    pub url: Option<String>,
    /// Webhook endpoints, on creation only: `whsec_…`, the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The public URL of endpoint `id`, as the caller reached this server.
fn hook_url(headers: &HeaderMap, id: Uuid) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()));
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    match host {
        Some(h) => format!("{proto}://{h}/api/v1/hooks/{id}"),
        None => format!("/api/v1/hooks/{id}"),
    }
}

impl TriggerDto {
    pub(super) fn new(t: Trigger, headers: &HeaderMap) -> Self {
        let mut dto = Self {
            id: t.id(),
            kind: TriggerKindName::Event,
            definition_key: String::new(),
            is_active: false,
            created_by: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            event_type: None,
            filter: None,
            cron: None,
            timezone: None,
            catch_up: None,
            next_fire_at: None,
            last_fired_at: None,
            name: None,
            scheme: None,
            header: None,
            tolerance_seconds: None,
            rate_limit: None,
            url: None,
            secret: None,
        };
        match t {
            Trigger::Event(s) => {
                dto.definition_key = s.definition_key;
                (dto.is_active, dto.created_by) = (s.is_active, s.created_by);
                (dto.created_at, dto.updated_at) = (s.created_at, s.updated_at);
                dto.event_type = Some(s.event_pattern);
                dto.filter = s.filter;
            }
            Trigger::Schedule(s) => {
                dto.kind = TriggerKindName::Schedule;
                dto.definition_key = s.definition_key;
                (dto.is_active, dto.created_by) = (s.is_active, s.created_by);
                (dto.created_at, dto.updated_at) = (s.created_at, s.updated_at);
                dto.cron = Some(s.cron);
                dto.timezone = Some(s.timezone);
                dto.catch_up = Some(s.catch_up.into());
                dto.next_fire_at = s.next_fire_at;
                dto.last_fired_at = s.last_fired_at;
            }
            Trigger::Webhook(e) => {
                dto.kind = TriggerKindName::Webhook;
                dto.definition_key = e.definition_key;
                (dto.is_active, dto.created_by) = (e.is_active, e.created_by);
                (dto.created_at, dto.updated_at) = (e.created_at, e.updated_at);
                dto.name = Some(e.name);
                dto.scheme = Some(e.scheme.into());
                dto.header = e.header;
                dto.tolerance_seconds = Some(e.tolerance_secs);
                dto.rate_limit = e.rate_limit;
                dto.url = Some(hook_url(headers, e.id));
            }
        }
        dto
    }
}

/// An accepted inbound webhook.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookAccepted {
    /// The run the payload started (`GET /api/v1/executions/{id}`).
    pub execution_id: Uuid,
}
