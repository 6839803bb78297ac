//! A payment provider's signed callbacks about deposits and withdrawals.

use betflow_domain::DomainError;
use betflow_domain::audit::Actor;
use betflow_domain::ids::TransactionId;
use betflow_domain::sportsbook::wallet::Transaction;
use betflow_domain::text;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::model::{Resolution, ResolutionDetails};
use super::service::Wallet;
use crate::{EngineError, RefusalKind};

/// A payment provider's signed callback about a deposit or withdrawal.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderCallback {
    /// Ours, or the `reference` we gave the provider.
    pub transaction_id: Option<Uuid>,
    pub reference: Option<String>,
    /// processing, completed, failed or cancelled.
    pub status: String,
    pub external_reference: Option<String>,
    pub fees: Option<i64>,
    pub processor_response: Option<Value>,
}

/// How far a callback's timestamp may be from our clock.
const CALLBACK_TOLERANCE_SECS: i64 = 300;

impl Wallet {
    /// Verifies a provider's callback (Standard Webhooks signature with the shared
    /// `BETFLOW_PAYMENTS_WEBHOOK_SECRET`, timestamp within five minutes) and resolves the
    /// transaction it names, as an operator's resolve would.
    pub async fn provider_callback(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &str,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let Some(secret) = self.payments_secret.as_deref() else {
            return Err(EngineError::NotFound(
                "payment provider callbacks (BETFLOW_PAYMENTS_WEBHOOK_SECRET is not set)".into(),
            ));
        };
        let ts = timestamp.parse::<i64>().unwrap_or(i64::MIN / 2);
        if !betflow_domain::webhooks::verify(
            secret,
            msg_id,
            ts,
            body,
            signature,
            at,
            CALLBACK_TOLERANCE_SECS,
        ) {
            return Err(EngineError::refused(
                RefusalKind::Unauthenticated,
                "INVALID_SIGNATURE",
                "the callback's signature or timestamp is not valid",
                None,
            ));
        }
        let doc: Value =
            serde_json::from_str(body).map_err(|e| DomainError::invalid("body", e.to_string()))?;
        // Signed or not, a NUL is refused as on every other input.
        let nul = text::nul_violations("", &doc);
        if !nul.is_empty() {
            return Err(DomainError::Validation(nul).into());
        }
        let cb: ProviderCallback =
            serde_json::from_value(doc).map_err(|e| DomainError::invalid("body", e.to_string()))?;
        let resolution = Resolution::parse(&cb.status)?;
        let id = match (cb.transaction_id, cb.reference.as_deref()) {
            (Some(id), _) => id,
            (None, Some(reference)) => {
                self.store
                    .find_transaction_by_reference(reference)
                    .await?
                    .ok_or_else(|| EngineError::NotFound(format!("transaction {reference}")))?
                    .id
            }
            (None, None) => {
                return Err(
                    DomainError::invalid("transactionId", "transactionId or reference").into(),
                );
            }
        };
        self.resolve_transaction(
            TransactionId::from_uuid(id),
            resolution,
            ResolutionDetails {
                external_reference: cb.external_reference,
                fees: cb.fees,
                processor_response: cb.processor_response,
            },
            actor,
        )
        .await
    }
}
