//! Deciding approval steps: who may, quorum, and the four-eyes rule.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::graph::{StepDef, StepKind};
use crate::identity::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// A decision already recorded in this workflow's current run of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub step_id: String,
    pub user_id: Uuid,
    pub decision: Decision,
}

/// The state of an approval step after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// More approvals are needed.
    Pending {
        approvals: u32,
        required: u32,
    },
    Approved,
    Rejected,
}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("step {0} is not an approval step")]
    NotApproval(String),
    #[error("role {0} may not decide this step")]
    NotAssignee(Role),
    /// Four eyes: the person who asked for a change may not approve it.
    #[error("the creator of a workflow may not decide its approval steps")]
    CreatorMayNotDecide,
    /// Four eyes: one person may not decide two approval steps of one workflow.
    #[error("you already decided step {0} of this workflow")]
    DecidedAnotherStep(String),
    #[error("you already decided this step")]
    AlreadyVoted,
    #[error("this step is already decided")]
    StepClosed,
}

impl DecisionError {
    /// Refusals of the four-eyes rule (segregation of duties), as opposed to other refusals.
    pub fn is_segregation_of_duties(&self) -> bool {
        matches!(
            self,
            Self::CreatorMayNotDecide | Self::DecidedAnotherStep(_)
        )
    }
}

/// The outcome of the votes so far on `step`.
pub fn tally(step: &StepDef, votes: &[Vote]) -> StepOutcome {
    let on_step = votes.iter().filter(|v| v.step_id == step.id);
    let mut approvals = 0u32;
    for v in on_step {
        match v.decision {
            Decision::Reject => return StepOutcome::Rejected,
            Decision::Approve => approvals += 1,
        }
    }
    let required = step.required_approvals.max(1);
    if approvals >= required {
        StepOutcome::Approved
    } else {
        StepOutcome::Pending {
            approvals,
            required,
        }
    }
}

/// Decides `step` for `user` (holding `role`) given the `votes` already recorded in this
/// workflow. A rejection closes the step at once; approvals close it when the quorum is
/// reached. Admins may decide any step; `escalated` roles were added by a timeout.
pub fn decide(
    step: &StepDef,
    escalated: &[String],
    creator: Option<Uuid>,
    user: Uuid,
    role: Role,
    decision: Decision,
    votes: &[Vote],
) -> Result<StepOutcome, DecisionError> {
    if step.kind != StepKind::Approval {
        return Err(DecisionError::NotApproval(step.id.clone()));
    }
    if !matches!(tally(step, votes), StepOutcome::Pending { .. }) {
        return Err(DecisionError::StepClosed);
    }
    if votes
        .iter()
        .any(|v| v.step_id == step.id && v.user_id == user)
    {
        return Err(DecisionError::AlreadyVoted);
    }
    let allowed = role == Role::Admin
        || step
            .assignees
            .iter()
            .chain(escalated)
            .any(|r| r == role.as_str());
    if !allowed {
        return Err(DecisionError::NotAssignee(role));
    }
    if step.four_eyes {
        if creator == Some(user) {
            return Err(DecisionError::CreatorMayNotDecide);
        }
        if let Some(other) = votes
            .iter()
            .find(|v| v.user_id == user && v.step_id != step.id)
        {
            return Err(DecisionError::DecidedAnotherStep(other.step_id.clone()));
        }
    }
    let mut with_this = votes.to_vec();
    with_this.push(Vote {
        step_id: step.id.clone(),
        user_id: user,
        decision,
    });
    Ok(tally(step, &with_this))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::graph::TimeoutAction;
    use proptest::prelude::*;

    fn step(id: &str, required: u32) -> StepDef {
        StepDef {
            id: id.into(),
            name: id.into(),
            kind: StepKind::Approval,
            assignees: vec!["risk_manager".into()],
            required: true,
            timeout: None,
            retry: None,
            on_timeout: TimeoutAction::default(),
            required_approvals: required,
            four_eyes: true,
            condition: None,
            action: None,
            params: None,
            delay: None,
        }
    }

    #[test]
    fn four_eyes_and_roles() {
        let (creator, alice, bob) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let s = step("risk", 1);
        let d = |u, r, v: &[Vote]| decide(&s, &[], Some(creator), u, r, Decision::Approve, v);
        assert_eq!(
            d(creator, Role::RiskManager, &[]),
            Err(DecisionError::CreatorMayNotDecide)
        );
        assert!(
            d(creator, Role::RiskManager, &[])
                .unwrap_err()
                .is_segregation_of_duties()
        );
        assert_eq!(
            d(alice, Role::Trader, &[]),
            Err(DecisionError::NotAssignee(Role::Trader))
        );
        assert_eq!(d(alice, Role::RiskManager, &[]), Ok(StepOutcome::Approved));
        assert_eq!(d(alice, Role::Admin, &[]), Ok(StepOutcome::Approved));
        let earlier = [Vote {
            step_id: "impact".into(),
            user_id: bob,
            decision: Decision::Approve,
        }];
        assert_eq!(
            d(bob, Role::RiskManager, &earlier),
            Err(DecisionError::DecidedAnotherStep("impact".into()))
        );
        // Escalation adds roles.
        assert_eq!(
            decide(
                &s,
                &["trader".into()],
                Some(creator),
                alice,
                Role::Trader,
                Decision::Approve,
                &[]
            ),
            Ok(StepOutcome::Approved)
        );
        let mut lax = step("risk", 1);
        lax.four_eyes = false;
        assert_eq!(
            decide(
                &lax,
                &[],
                Some(creator),
                creator,
                Role::RiskManager,
                Decision::Approve,
                &[]
            ),
            Ok(StepOutcome::Approved)
        );
    }

    #[test]
    fn quorum_of_two_and_rejection() {
        let s = step("risk", 2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let first = decide(&s, &[], None, a, Role::RiskManager, Decision::Approve, &[]).unwrap();
        assert_eq!(
            first,
            StepOutcome::Pending {
                approvals: 1,
                required: 2
            }
        );
        let votes = [Vote {
            step_id: "risk".into(),
            user_id: a,
            decision: Decision::Approve,
        }];
        assert_eq!(
            decide(
                &s,
                &[],
                None,
                a,
                Role::RiskManager,
                Decision::Approve,
                &votes
            ),
            Err(DecisionError::AlreadyVoted)
        );
        assert_eq!(
            decide(
                &s,
                &[],
                None,
                b,
                Role::RiskManager,
                Decision::Approve,
                &votes
            ),
            Ok(StepOutcome::Approved)
        );
        assert_eq!(
            decide(
                &s,
                &[],
                None,
                c,
                Role::RiskManager,
                Decision::Reject,
                &votes
            ),
            Ok(StepOutcome::Rejected)
        );
        let closed = [
            votes[0].clone(),
            Vote {
                step_id: "risk".into(),
                user_id: b,
                decision: Decision::Approve,
            },
        ];
        assert_eq!(
            decide(
                &s,
                &[],
                None,
                c,
                Role::RiskManager,
                Decision::Approve,
                &closed
            ),
            Err(DecisionError::StepClosed)
        );
    }

    proptest! {
        /// However decisions arrive, a step never counts more approvals than its quorum,
        /// never counts one person twice, never counts the creator, and is approved exactly
        /// when the quorum is met without a rejection.
        #[test]
        fn quorum_invariants(
            required in 1u32..5,
            attempts in proptest::collection::vec((0usize..6, any::<bool>()), 0..30),
        ) {
            let s = step("risk", required);
            let users: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
            let creator = users[0];
            let mut votes: Vec<Vote> = Vec::new();
            for (who, approve) in attempts {
                let decision = if approve { Decision::Approve } else { Decision::Reject };
                if decide(&s, &[], Some(creator), users[who], Role::RiskManager, decision, &votes).is_ok() {
                    votes.push(Vote { step_id: "risk".into(), user_id: users[who], decision });
                }
            }
            let approvals = votes.iter().filter(|v| v.decision == Decision::Approve).count() as u32;
            let rejections = votes.iter().filter(|v| v.decision == Decision::Reject).count();
            prop_assert!(approvals <= required);
            prop_assert!(rejections <= 1);
            prop_assert!(!votes.iter().any(|v| v.user_id == creator));
            let mut voters: Vec<Uuid> = votes.iter().map(|v| v.user_id).collect();
            voters.sort();
            voters.dedup();
            prop_assert_eq!(voters.len(), votes.len());
            let outcome = tally(&s, &votes);
            prop_assert_eq!(outcome == StepOutcome::Approved, rejections == 0 && approvals == required);
        }
    }
}
