//! Ready-made automations (issue 17): definitions with their triggers that every database
//! starts with, created once when their key is absent and never overwritten, so an
//! operator's edits stay. All ship disabled except `content_publishing_sync`, which is
//! created enabled when the betting platform is configured (`BETFLOW_BETTING_API_URL` and
//! `BETFLOW_BETTING_API_KEY`, seed 000's `BETTING_API_*`).
//!
//! - `content_publishing_sync`: on `workflow.completed` of a `content_publishing` workflow,
//!   `POST {url}/content` with the key in `X-API-Key` (an `api_key_header` credential kept
//!   in step with the setting on every start), 5 attempts from 1 s; when they are spent the
//!   `error` edge raises a task for the content team.
//! - `results_feed_settlement`: an inbound webhook endpoint (created by the operator, see
//!   docs/automations.md) whose payload `{marketId, results, liability}` settles the market,
//!   after an approval when the liability is above a level.
//! - `exposure_alert`: on `exposure.threshold_crossed` (emitted by the live-sportsbook
//!   issue 18; until then it never fires) above a level, suspend the market, raise a trader
//!   task and notify the trading room.

use std::time::Duration;

use betflow_domain::audit::Actor;
use betflow_domain::automation::credentials::StoredCredential;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{Definition, Version};
use betflow_store::StoreError;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::triggers::NewTrigger;
use crate::{Engine, EngineError};

/// The external betting platform approved content is published to.
#[derive(Clone)]
pub struct BettingPlatform {
    /// Base URL; content goes to `{url}/content`.
    pub url: String,
    /// Sent in the `X-API-Key` header.
    pub api_key: String,
    /// How long one request may take.
    pub timeout: Duration,
}

/// The key stays out of logs.
impl std::fmt::Debug for BettingPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BettingPlatform")
            .field("url", &self.url)
            .field("api_key", &"***")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The header the platform's key is sent in.
pub const BETTING_API_KEY_HEADER: &str = "X-API-Key";
/// The path under the platform's base URL content is posted to.
pub const BETTING_CONTENT_PATH: &str = "/content";
/// The fixed id of the `api_key_header` credential holding `BETFLOW_BETTING_API_KEY`.
pub const BETTING_CREDENTIAL_ID: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_6265_7474_0001);
/// The credential's name.
pub const BETTING_CREDENTIAL_NAME: &str = "betting-platform-api-key";
const CREDENTIAL_PURPOSE: &str = "credential.data";

/// Keys of the ready-made definitions.
pub const CONTENT_PUBLISHING_SYNC: &str = "content_publishing_sync";
pub const RESULTS_FEED: &str = "results_feed_settlement";
pub const EXPOSURE_ALERT: &str = "exposure_alert";

/// One ready-made definition: what it is, its graph and its triggers.
pub struct Example {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub graph: WorkflowGraph,
    pub triggers: Vec<NewTrigger>,
    pub active: bool,
}

fn graph(v: Value) -> Result<WorkflowGraph, EngineError> {
    serde_json::from_value(v)
        .map_err(|e| EngineError::Internal(format!("ready-made definition graph: {e}")))
}

/// `content_publishing_sync` for `platform`.
pub fn content_publishing_sync(platform: &BettingPlatform) -> Result<Example, EngineError> {
    let url = format!(
        "{}{BETTING_CONTENT_PATH}",
        platform.url.trim_end_matches('/')
    );
    let timeout_ms = u64::try_from(platform.timeout.as_millis()).unwrap_or(u64::MAX);
    Ok(Example {
        key: CONTENT_PUBLISHING_SYNC,
        name: "Publish content to the betting platform",
        description: "When a content_publishing workflow completes, posts it to the betting \
                      platform (BETFLOW_BETTING_API_URL/content, key in X-API-Key); after 5 \
                      failed attempts a task goes to the content team.",
        category: "content",
        graph: graph(json!({
            "steps": [
                {"id": "publish", "name": "Publish to the betting platform", "type": "action",
                 "action": "http.request",
                 "retry": {"attempts": 5, "backoff": "1s"},
                 "params": {
                     "method": "POST",
                     "url": url,
                     "credentialId": BETTING_CREDENTIAL_ID,
                     "timeoutMs": timeout_ms,
                     "body": {
                         "workflowId": "{{ event.data.workflowId }}",
                         "workflowType": "{{ event.data.workflowType }}",
                         "status": "{{ event.data.status }}",
                         "publishedBy": "{{ event.data.updatedBy }}",
                         "completedAt": "{{ event.data.updatedAt }}",
                         "eventId": "{{ event.id }}"
                     }
                 }},
                {"id": "raise_task", "name": "Tell the content team", "type": "action",
                 "action": "task.create",
                 "params": {
                     "title": "Publishing to the betting platform failed",
                     "description": "Content workflow {{ event.data.workflowId }} could not be \
                                     sent to the betting platform; see execution \
                                     {{ event.id }} and publish it by hand.",
                     "assigneeRole": "content_team",
                     "priority": "high",
                     "data": {"workflowId": "{{ event.data.workflowId }}"}
                 }}
            ],
            "edges": [{"from": "publish", "to": "raise_task", "branch": "error"}]
        }))?,
        triggers: vec![NewTrigger::Event {
            event_type: "workflow.completed".into(),
            filter: Some("event.data.workflowType == \"content_publishing\"".into()),
        }],
        active: true,
    })
}

/// `results_feed_settlement`: settles a market from a results payload, with an approval
/// first when `liability` (minor units) is above 1,000,000 (10,000.00).
pub fn results_feed() -> Result<Example, EngineError> {
    Ok(Example {
        key: RESULTS_FEED,
        name: "Results feed settlement",
        description: "An inbound results webhook ({marketId, results, liability}) settles the \
                      market; above a liability of 10,000.00 a trading manager approves first.",
        category: "sportsbook",
        graph: graph(json!({
            "steps": [
                {"id": "check_liability", "name": "Liability above the level?", "type": "condition",
                 "condition": "double(data.liability) > 1000000.0"},
                {"id": "approve_settlement", "name": "Approve settlement", "type": "approval",
                 "assignees": ["trading_manager"], "timeout": 120},
                {"id": "settle", "name": "Settle the market", "type": "action",
                 "action": "market.settle",
                 "params": {"marketId": "{{ data.marketId }}", "results": "{{ data.results }}"}}
            ],
            "edges": [
                {"from": "check_liability", "to": "approve_settlement", "branch": "true"},
                {"from": "check_liability", "to": "settle", "branch": "false"},
                {"from": "approve_settlement", "to": "settle", "branch": "approved"}
            ]
        }))?,
        triggers: Vec::new(),
        active: false,
    })
}

/// `exposure_alert`: on `exposure.threshold_crossed` above 5,000,000 (50,000.00) of
/// liability, suspend the market, raise a trader task and notify the trading room.
pub fn exposure_alert() -> Result<Example, EngineError> {
    Ok(Example {
        key: EXPOSURE_ALERT,
        name: "Exposure alert",
        description: "On exposure.threshold_crossed above 50,000.00 of liability: suspend the \
                      market, raise a trader task and notify the traders. Needs the event of \
                      the live-sportsbook issue.",
        category: "risk",
        graph: graph(json!({
            "steps": [
                {"id": "above_level", "name": "Liability above the level?", "type": "condition",
                 "condition": "double(data.data.liability) > 5000000.0"},
                {"id": "suspend", "name": "Suspend the market", "type": "action",
                 "action": "market.suspend",
                 "params": {"marketId": "{{ event.data.marketId }}",
                            "reason": "exposure threshold crossed"}},
                {"id": "trader_task", "name": "Trader task", "type": "action",
                 "action": "task.create",
                 "params": {"title": "Exposure threshold crossed",
                            "description": "Market {{ event.data.marketId }} was suspended at a \
                                            liability of {{ event.data.liability }}.",
                            "assigneeRole": "trader", "priority": "high",
                            "data": {"marketId": "{{ event.data.marketId }}"}}},
                {"id": "notify_traders", "name": "Notify the trading room", "type": "action",
                 "action": "notify",
                 "params": {"role": "trader", "level": "warning",
                            "title": "Exposure alert",
                            "message": "Market {{ event.data.marketId }} suspended: liability \
                                        {{ event.data.liability }}."}}
            ],
            "edges": [
                {"from": "above_level", "to": "suspend", "branch": "true"},
                {"from": "suspend", "to": "trader_task"},
                {"from": "trader_task", "to": "notify_traders"}
            ]
        }))?,
        triggers: vec![NewTrigger::Event {
            event_type: "exposure.threshold_crossed".into(),
            filter: None,
        }],
        active: false,
    })
}

/// Every ready-made definition for this configuration.
pub fn all(platform: Option<&BettingPlatform>) -> Result<Vec<Example>, EngineError> {
    let mut out = vec![results_feed()?, exposure_alert()?];
    if let Some(p) = platform {
        out.insert(0, content_publishing_sync(p)?);
    }
    Ok(out)
}

impl Engine {
    /// Creates the ready-made definitions whose key is absent (`platform`: the engine
    /// config's `betting_platform`) (with their triggers), and
    /// keeps the betting platform's credential in step with the settings. Safe on every
    /// start and from several nodes at once.
    pub async fn ensure_examples(
        &self,
        platform: Option<&BettingPlatform>,
    ) -> Result<(), EngineError> {
        if let Some(p) = platform {
            self.ensure_betting_credential(p).await?;
        }
        for example in all(platform)? {
            self.ensure_example(example).await?;
        }
        Ok(())
    }

    async fn ensure_example(&self, example: Example) -> Result<(), EngineError> {
        let store = &self.store;
        if store.get_definition(example.key).await?.is_some() {
            return Ok(());
        }
        // An action this build lacks (an example ahead of its issue) skips the example
        // rather than stopping the start.
        if let Err(problems) = self.automations().validate_graph(&example.graph) {
            tracing::warn!(
                key = example.key,
                ?problems,
                "ready-made automation not created"
            );
            return Ok(());
        }
        let t = now();
        let definition = Definition {
            id: Uuid::now_v7(),
            key: example.key.to_owned(),
            name: example.name.to_owned(),
            description: Some(example.description.to_owned()),
            category: Some(example.category.to_owned()),
            tags: vec!["automation".to_owned(), "ready-made".to_owned()],
            data_schema: None,
            latest_version: 1,
            is_active: example.active,
            created_by: None,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        };
        let version = Version {
            definition_id: definition.id,
            version: 1,
            graph: example.graph,
            published_by: None,
            published_at: t,
        };
        let mut tx = store.begin().await?;
        match tx.insert_definition(&definition).await {
            Ok(()) => {}
            // Another node created it first.
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        tx.insert_version(&version).await?;
        tx.commit().await?;
        for trigger in example.triggers {
            self.triggers()
                .create(example.key, trigger, example.active, &Actor::default())
                .await?;
        }
        Ok(())
    }

    /// Creates or updates the `api_key_header` credential holding the platform's key.
    async fn ensure_betting_credential(&self, p: &BettingPlatform) -> Result<(), EngineError> {
        let data = json!({"header": BETTING_API_KEY_HEADER, "value": p.api_key});
        let text = serde_json::to_vec(&data)
            .map_err(|e| EngineError::Internal(format!("credential data: {e}")))?;
        let id = BETTING_CREDENTIAL_ID;
        let keyring = self.keyring();
        let ciphertext = keyring.encrypt(CREDENTIAL_PURPOSE, &id.to_string(), &text)?;
        let t = now();
        let store = &self.store;
        let mut tx = store.begin().await?;
        match tx.lock_credential(id).await? {
            Some(mut c) => {
                let same = keyring
                    .decrypt(CREDENTIAL_PURPOSE, &id.to_string(), &c.ciphertext)
                    .is_ok_and(|b| b.expose() == text.as_slice());
                if same && c.deleted_at.is_none() {
                    return Ok(());
                }
                c.ciphertext = ciphertext;
                c.key_id = keyring.current_id().to_owned();
                c.deleted_at = None;
                c.updated_at = t;
                tx.update_credential(&c).await?;
            }
            None => {
                let c = StoredCredential {
                    id,
                    name: BETTING_CREDENTIAL_NAME.to_owned(),
                    kind: "api_key_header".to_owned(),
                    owner_id: None,
                    ciphertext,
                    key_id: keyring.current_id().to_owned(),
                    created_at: t,
                    updated_at: t,
                    expires_at: None,
                    last_used_at: None,
                    deleted_at: None,
                };
                match tx.insert_credential(&c).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict { .. }) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
