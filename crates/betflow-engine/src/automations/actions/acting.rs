//! Acting on the platform as an automation on behalf of its definition's owner: the owner's
//! principal (their role and permissions, checked by the services as for the owner), and an
//! audit actor naming the automation, the run and the step.

use betflow_domain::audit::Actor;
use betflow_domain::identity::UserStatus;
use uuid::Uuid;

use super::{ActionCall, ActionError};
use crate::identity::{Credential, Principal};

/// The owner as a principal; an action that acts for someone needs the definition to have an
/// active owner.
pub(super) async fn owner(action: &str, call: &ActionCall<'_>) -> Result<Principal, ActionError> {
    let id: Uuid = call
        .owner
        .ok_or_else(|| {
            ActionError::permanent(format!(
                "{action} acts on behalf of the definition's owner, and {} has none",
                call.definition_key
            ))
        })?
        .into();
    let user = call
        .engine
        .store
        .get_user(id)
        .await
        .map_err(|e| ActionError::retryable(format!("{action}: {e}")))?
        .ok_or_else(|| ActionError::permanent(format!("{action}: the owner {id} is gone")))?;
    if user.status != UserStatus::Active {
        return Err(ActionError::permanent(format!(
            "{action}: the owner {} is not active",
            user.username
        )));
    }
    Ok(Principal {
        user_id: user.id,
        username: user.username.clone(),
        role: user.role,
        permissions: user.effective_permissions(),
        key_permissions: None,
        credential: Credential::Session(Uuid::nil()),
    })
}

/// The audit actor: the owner, with the automation named where a client's user agent goes.
pub(super) fn actor(call: &ActionCall<'_>) -> Actor {
    Actor {
        user_id: call.owner.map(Into::into),
        ip_address: None,
        user_agent: Some(format!(
            "automation {} (execution {}, step {})",
            call.definition_key, call.execution_id, call.step_id
        )),
    }
}

/// An engine refusal as an action error: bad input, a missing thing, a refused permission or
/// a business rule is permanent; anything else (the database, contention) may pass later.
pub(super) fn engine_error(action: &str, e: crate::EngineError) -> ActionError {
    use crate::EngineError as E;
    let message = format!("{action}: {e}");
    match e {
        E::Invalid(_)
        | E::NotFound(_)
        | E::PermissionDenied(_)
        | E::Rejected { .. }
        | E::Unprocessable(_)
        | E::InvalidTransition(_)
        | E::Conflict(_)
        | E::NotAssignee(_)
        | E::SegregationOfDuties(_) => ActionError::permanent(message),
        _ => ActionError::retryable(message),
    }
}

/// Refuses unless the owner holds `permission`, as the API would refuse them.
pub(super) fn require(action: &str, p: &Principal, permission: &str) -> Result<(), ActionError> {
    if p.has(permission) {
        Ok(())
    } else {
        Err(ActionError::permanent(format!(
            "{action}: the owner {} lacks {permission}",
            p.username
        )))
    }
}
