//! Typed ids for the main entities: a bet's id cannot be passed where a transaction's is
//! expected. Each is a UUID underneath, serialised as one (serde-transparent), so the wire
//! and the database see the same values as before.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), as every row of ours gets.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A user: a customer, an operator or an administrator.
    UserId
);
typed_id!(
    /// A bet.
    BetId
);
typed_id!(
    /// A wallet transaction: a deposit, a withdrawal, a bet debit or credit.
    TransactionId
);
typed_id!(
    /// A workflow instance (a run of a workflow definition).
    WorkflowId
);
typed_id!(
    /// A sport of the catalog.
    SportId
);
typed_id!(
    /// A league (a competition) of a sport.
    LeagueId
);
typed_id!(
    /// A team of a sport.
    TeamId
);
typed_id!(
    /// A sporting event of the catalog (`sportsbook::catalog::Event`, a fixture between two
    /// teams); named so it cannot be mistaken for an outbox event.
    FixtureId
);
typed_id!(
    /// A market of an event.
    MarketId
);
typed_id!(
    /// A selection of a market.
    SelectionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_on_the_wire() {
        let id = BetId::new();
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(json, serde_json::json!(id.uuid().to_string()));
        assert_eq!(serde_json::from_value::<BetId>(json).unwrap(), id);
        assert_eq!(Uuid::from(id), id.uuid());
        assert_eq!(id.to_string(), id.uuid().to_string());
    }
}
