//! Responsible gambling: deposit, stake and loss limits, time-outs and self-exclusions,
//! and the refusals they give (the domain's rules, which bet placement asks too).

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::ids::UserId;
use betflow_domain::sportsbook::limits::{self, Exclusion, LimitKind, Period, ResponsibleGambling};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::service::Wallet;
use crate::{EngineError, RefusalKind};

/// Refuses a customer who is on a break (the domain's rule, as an engine error).
pub(super) fn check_exclusion(
    rg: Option<&ResponsibleGambling>,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    Ok(limits::check_exclusion(rg, now)?)
}

pub(super) fn limit_exceeded(e: &limits::LimitExceeded) -> EngineError {
    e.refusal().into()
}

impl Wallet {
    pub async fn responsible_gambling(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<ResponsibleGambling, EngineError> {
        let user_id = user_id.uuid();
        let mut rg = self
            .store
            .get_responsible_gambling(user_id)
            .await?
            .unwrap_or_else(|| ResponsibleGambling::new(user_id, at));
        rg.limits = rg.limits.into_iter().map(|l| l.settled(at)).collect();
        Ok(rg)
    }

    /// Sets (or with `None` removes) a limit: lowering applies at once, raising or removing
    /// after a 24-hour cooling-off.
    pub async fn set_limit(
        &self,
        user_id: UserId,
        kind: LimitKind,
        period: Period,
        amount: Option<i64>,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ResponsibleGambling, EngineError> {
        self.change_rg(user_id.uuid(), at, actor, |rg| {
            Ok(rg.request_limit(kind, period, amount, at)?)
        })
        .await
    }

    /// Starts a time-out (days) or self-exclusion (months), or lengthens the one in force.
    pub async fn take_break(
        &self,
        user_id: UserId,
        exclusion: Exclusion,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ResponsibleGambling, EngineError> {
        self.change_rg(user_id.uuid(), at, actor, |rg| {
            // A shorter break than the one in force conflicts with the customer's state (it
            // would be fine another day): 409, not a malformed request.
            if let Some(current) = rg.active_exclusion(at)
                && exclusion.ends_at < current.ends_at
            {
                return Err(EngineError::refused(
                    RefusalKind::Conflict,
                    "BREAK_IN_FORCE",
                    format!(
                        "a break is in force until {}: it can be lengthened, not shortened",
                        current.ends_at.to_rfc3339()
                    ),
                    Some(json!({"endsAt": current.ends_at})),
                ));
            }
            Ok(rg.take_break(exclusion, at)?)
        })
        .await
    }

    async fn change_rg(
        &self,
        user_id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
        change: impl FnOnce(&mut ResponsibleGambling) -> Result<(), EngineError>,
    ) -> Result<ResponsibleGambling, EngineError> {
        let mut tx = self.store.begin().await?;
        let current = tx.responsible_gambling(user_id).await?;
        let mut next = current
            .clone()
            .unwrap_or_else(|| ResponsibleGambling::new(user_id, at));
        next.limits = next.limits.into_iter().map(|l| l.settled(at)).collect();
        change(&mut next)?;
        tx.save_responsible_gambling(&next).await?;
        let entry = AuditEntry::new(
            "responsible_gambling",
            user_id,
            if current.is_some() {
                AuditAction::Update
            } else {
                AuditAction::Insert
            },
            current.map(|c| json!(c)),
            Some(json!(next)),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(next)
    }
}
