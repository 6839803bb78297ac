//! Every engine setting in one plain struct, filled by the binary from its flags and by
//! tests from `..Default::default()`.

use betflow_domain::sportsbook::bets::BetSettings;
use betflow_domain::workflow::seeded::{LineChangeSettings, RiskThresholds};

use crate::batch::BatchSettings;
use crate::identity::IdentityConfig;
use crate::jobs::Retention;
use crate::secrets::EncryptionKey;
use crate::webhooks::WebhookSettings;

/// What [`crate::Engine::new`] wires the services with. The defaults are the seed's (and a
/// random JWT secret: see [`IdentityConfig::default`]).
#[derive(Clone, Default)]
pub struct EngineConfig {
    /// Tokens, sessions, lockout, password cost, identity caches.
    pub identity: IdentityConfig,
    /// Stake and payout bounds and the in-play delay.
    pub bets: BetSettings,
    /// How many bets share a transaction, and how many such batches run at once.
    pub bet_batching: BatchSettings,
    /// How many workflow decisions share a transaction, and how many such batches run at
    /// once.
    pub decision_batching: BatchSettings,
    /// Where an odds change stops applying directly and goes to approval.
    pub line_change: LineChangeSettings,
    /// Where a line change's risk levels start.
    pub risk: RiskThresholds,
    /// How long audit rows and system events are kept (the seed's daily maintenance).
    pub retention: Retention,
    /// How webhook deliveries retry, and whether they may reach private addresses.
    pub webhooks: WebhookSettings,
    /// Shared with the payment provider to sign its callbacks (Standard Webhooks); `None`
    /// or empty: no callbacks are accepted.
    pub payments_secret: Option<String>,
    /// The keys that encrypt stored secrets (`BETFLOW_ENCRYPTION_KEY`).
    pub encryption: EncryptionConfig,
    /// The betting platform approved content is published to (`BETFLOW_BETTING_API_*`);
    /// `None`: `content_publishing_sync` is not created.
    pub betting_platform: Option<crate::examples::BettingPlatform>,
}

/// `BETFLOW_ENCRYPTION_KEY` and the keys it replaced. Without a current key (tests), one
/// random key is made per process, shared by every engine the process builds.
#[derive(Clone, Default)]
pub struct EncryptionConfig {
    /// Encrypts new values, and decrypts.
    pub key: Option<EncryptionKey>,
    /// Only decrypt: the keys of values a rotation has not moved yet
    /// (`BETFLOW_PREVIOUS_ENCRYPTION_KEYS`).
    pub previous: Vec<EncryptionKey>,
}

/// Key ids only.
impl std::fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionConfig")
            .field("key", &self.key)
            .field("previous", &self.previous)
            .finish()
    }
}

/// Without the payments secret (and the JWT secret: see [`IdentityConfig`]'s `Debug`), so
/// a configuration can be logged.
impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("identity", &self.identity)
            .field("bets", &self.bets)
            .field("bet_batching", &self.bet_batching)
            .field("decision_batching", &self.decision_batching)
            .field("line_change", &self.line_change)
            .field("risk", &self.risk)
            .field("retention", &self.retention)
            .field("webhooks", &self.webhooks)
            .field(
                "payments_secret",
                &self.payments_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("encryption", &self.encryption)
            .field("betting_platform", &self.betting_platform)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings may be logged at start; the secrets in them never are.
    #[test]
    fn debug_output_redacts_the_secrets() {
        let config = EngineConfig {
            identity: IdentityConfig::new(b"jwt-signing-secret-value".to_vec()),
            payments_secret: Some("payments-secret-value".into()),
            encryption: EncryptionConfig {
                key: Some(EncryptionKey::from_bytes([0xab; 32])),
                previous: vec![EncryptionKey::from_bytes([0xcd; 32])],
            },
            ..Default::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(
            !shown.contains("abab") && !shown.contains("cdcd"),
            "{shown}"
        );
        assert!(
            shown.contains("[redacted]") && shown.contains("access_ttl"),
            "{shown}"
        );
    }
}
