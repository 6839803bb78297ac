//! Catalog entities and the one path creates and partial updates share: the request is
//! merged (RFC 7396) over the entity's JSON form and the result validated whole, so both obey
//! the same rules.

use betflow_domain::ids::{FixtureId, LeagueId, MarketId, SelectionId, SportId, TeamId};
use betflow_domain::sportsbook::catalog::{Event, League, Market, Selection, Sport, Team};
use betflow_domain::time::now;
use betflow_domain::workflow::expr::merge_patch;
use betflow_domain::{DomainError, Violation};
use betflow_store::{StoreError, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

/// Fields a client never sets.
const SERVER_FIELDS: &[&str] = &["id", "createdAt", "updatedAt", "settledAt"];

/// A catalog entity the generic create/update path can handle.
pub trait CatalogEntity: Serialize + DeserializeOwned + Clone + Send + Sync {
    const TABLE: &'static str;
    /// Its typed id, which the service's reads and changes take, so a team's id cannot be
    /// passed for a sport.
    type Id: Copy + From<Uuid> + Into<Uuid> + std::fmt::Display + Send + Sync + 'static;
    /// Fields fixed at creation (a league's sport, a market's event).
    const FIXED: &'static [&'static str] = &[];
    fn id(&self) -> Uuid;
    fn validate(&self) -> Result<(), DomainError>;
    /// What a new one starts with before the request is merged in.
    fn defaults() -> Value;
}

macro_rules! entity {
    ($t:ty, $id:ty, $table:literal, [$($fixed:literal),*], $defaults:expr) => {
        impl CatalogEntity for $t {
            const TABLE: &'static str = $table;
            type Id = $id;
            const FIXED: &'static [&'static str] = &[$($fixed),*];
            fn id(&self) -> Uuid {
                self.id
            }
            fn validate(&self) -> Result<(), DomainError> {
                <$t>::validate(self)
            }
            fn defaults() -> Value {
                $defaults
            }
        }
    };
}

entity!(
    Sport,
    SportId,
    "sports",
    [],
    json!({"isActive": true, "sortOrder": 0, "configuration": {}})
);
entity!(
    League,
    LeagueId,
    "leagues",
    ["sportId"],
    json!({"isActive": true, "sortOrder": 0, "configuration": {}})
);
entity!(
    Team,
    TeamId,
    "teams",
    ["sportId"],
    json!({"isActive": true, "metadata": {}})
);
entity!(
    Event,
    FixtureId,
    "events",
    ["sportId"],
    json!({"status": "scheduled", "homeScore": 0, "awayScore": 0, "metadata": {}})
);
entity!(
    Market,
    MarketId,
    "markets",
    ["eventId"],
    json!({"isActive": true, "status": "open", "inPlay": false, "rules": {}, "settlementRules": {}})
);
entity!(
    Selection,
    SelectionId,
    "selections",
    ["marketId"],
    json!({"isActive": true, "metadata": {}})
);

/// Reads an entity from its merged JSON, naming the member at fault when it does not fit.
fn from_doc<T: DeserializeOwned>(doc: Value) -> Result<T, DomainError> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let msg = msg.split(" at line").next().unwrap_or(&msg).to_owned();
        let field = if path == "." {
            // A missing field is reported at the document; serde names it in backticks.
            msg.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        DomainError::Validation(vec![Violation::new(field, msg)])
    })
}

fn refuse_fields(body: &Value, fields: &[&str]) -> Result<(), DomainError> {
    let bad: Vec<Violation> = fields
        .iter()
        .filter(|f| body.get(**f).is_some())
        .map(|f| Violation::new(*f, "cannot be set"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(bad))
    }
}

/// A new entity from a request body.
pub fn build<T: CatalogEntity>(body: &Value) -> Result<T, DomainError> {
    if !body.is_object() {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    }
    refuse_fields(body, SERVER_FIELDS)?;
    let t = now();
    let mut doc = T::defaults();
    merge_patch(&mut doc, body);
    merge_patch(
        &mut doc,
        &json!({"id": Uuid::now_v7(), "createdAt": t, "updatedAt": t}),
    );
    let entity: T = from_doc(doc)?;
    entity.validate()?;
    Ok(entity)
}

/// `current` with a partial update applied.
pub fn patched<T: CatalogEntity>(current: &T, patch: &Value) -> Result<T, DomainError> {
    if !patch.is_object() {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    }
    refuse_fields(patch, SERVER_FIELDS)?;
    refuse_fields(patch, T::FIXED)?;
    let mut doc =
        serde_json::to_value(current).map_err(|e| DomainError::invalid("body", e.to_string()))?;
    merge_patch(&mut doc, patch);
    merge_patch(&mut doc, &json!({"updatedAt": now()}));
    let entity: T = from_doc(doc)?;
    entity.validate()?;
    Ok(entity)
}

pub(super) async fn save<T: CatalogEntity + 'static>(
    tx: &mut Box<dyn Transaction>,
    e: &T,
    update: bool,
) -> Result<bool, StoreError> {
    let any = e as &dyn std::any::Any;
    if let Some(v) = any.downcast_ref::<Sport>() {
        tx.save_sport(v, update).await
    } else if let Some(v) = any.downcast_ref::<League>() {
        tx.save_league(v, update).await
    } else if let Some(v) = any.downcast_ref::<Team>() {
        tx.save_team(v, update).await
    } else if let Some(v) = any.downcast_ref::<Event>() {
        tx.save_event(v, update).await
    } else if let Some(v) = any.downcast_ref::<Market>() {
        tx.save_market(v, update).await
    } else if let Some(v) = any.downcast_ref::<Selection>() {
        tx.save_selection(v, update).await
    } else {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_patch_share_the_rules() {
        let s: Sport =
            build(&json!({"name": "football", "displayName": "Football", "slug": "football"}))
                .unwrap();
        assert!(s.is_active);
        assert!(
            build::<Sport>(&json!({"name": "x", "displayName": "X", "slug": "x", "id": "1"}))
                .is_err()
        );
        let err = build::<Sport>(&json!({"displayName": "X", "slug": "x"})).unwrap_err();
        let DomainError::Validation(v) = err;
        assert_eq!(v[0].field, "name", "{v:?}");
        let renamed = patched(&s, &json!({"displayName": "Soccer", "iconUrl": null})).unwrap();
        assert_eq!(renamed.display_name, "Soccer");
        assert_eq!(renamed.created_at, s.created_at);
        assert!(patched(&s, &json!({"slug": "Bad Slug"})).is_err());
        assert!(patched(&s, &json!({"createdAt": "2020-01-01T00:00:00Z"})).is_err());
    }
}
