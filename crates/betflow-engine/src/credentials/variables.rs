//! A definition's variables (seed 003's `workflow_variable`): read masked, replaced as a
//! whole, and decrypted only for expressions (`vars.<name>`).

use std::collections::HashMap;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::automation::credentials::{
    MASK, MAX_VARIABLE_BYTES, MAX_VARIABLES, StoredVariable, check_variable_name,
};
use betflow_domain::time::now;
use betflow_domain::workflow::record::Definition;
use betflow_domain::{DomainError, Violation};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Credentials;
use crate::{EngineError, RefusalKind};

/// The associated-data purpose of a secret variable's value; the row is
/// `<definition id>/<name>`.
pub(crate) const VARIABLE_PURPOSE: &str = "variable.value";

pub(crate) fn variable_row(definition_id: Uuid, name: &str) -> String {
    format!("{definition_id}/{name}")
}

/// A variable as the API shows it: a secret one's value is [`MASK`].
#[derive(Debug, Clone, PartialEq)]
pub struct VariableView {
    pub name: String,
    pub value: Value,
    pub secret: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One variable of a replacement set.
#[derive(Clone)]
pub struct NewVariable {
    pub name: String,
    /// Any JSON value. For a secret variable that already exists, [`MASK`] (as read back)
    /// keeps its stored value.
    pub value: Value,
    pub secret: bool,
}

impl std::fmt::Debug for NewVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewVariable")
            .field("name", &self.name)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

fn view(v: &StoredVariable) -> VariableView {
    VariableView {
        name: v.name.clone(),
        value: if v.is_secret {
            Value::String(MASK.to_owned())
        } else {
            serde_json::from_str(&v.value).unwrap_or(Value::Null)
        },
        secret: v.is_secret,
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// The audit trail's picture of a set: secret values masked.
fn audit_picture(vars: &[VariableView]) -> Value {
    let map: Map<String, Value> = vars
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                json!({"value": v.value, "secret": v.secret}),
            )
        })
        .collect();
    Value::Object(map)
}

impl Credentials {
    async fn definition(&self, key: &str) -> Result<Definition, EngineError> {
        self.store
            .get_definition(key)
            .await?
            .filter(|d| d.deleted_at.is_none())
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))
    }

    /// A definition's variables, by name; secret values masked.
    pub async fn variables(&self, definition_key: &str) -> Result<Vec<VariableView>, EngineError> {
        let d = self.definition(definition_key).await?;
        Ok(self
            .store
            .list_variables(d.id)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// Replaces a definition's variables with `vars` (names unique identifiers, at most
    /// [`MAX_VARIABLES`], each value at most [`MAX_VARIABLE_BYTES`] of JSON). Secret values
    /// are encrypted; a secret given as [`MASK`] keeps its stored value. Audited masked.
    #[tracing::instrument(name = "credentials.put_variables", skip_all, fields(definition = definition_key))]
    pub async fn put_variables(
        &self,
        definition_key: &str,
        vars: Vec<NewVariable>,
        actor: &Actor,
    ) -> Result<Vec<VariableView>, EngineError> {
        let mut problems = Vec::new();
        if vars.len() > MAX_VARIABLES {
            problems.push(Violation::new(
                "variables",
                format!("at most {MAX_VARIABLES} variables"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut server_side = Vec::new();
        for (i, v) in vars.iter().enumerate() {
            let field = format!("variables[{i}].name");
            if let Err(e) = check_variable_name(&field, &v.name) {
                problems.push(e);
            } else if !seen.insert(v.name.as_str()) {
                server_side.push(Violation::new(field, "is given twice"));
            }
            let size = serde_json::to_string(&v.value)
                .map(|s| s.len())
                .unwrap_or(0);
            if size > MAX_VARIABLE_BYTES {
                server_side.push(Violation::new(
                    format!("variables[{i}].value"),
                    format!("must be at most {MAX_VARIABLE_BYTES} bytes of JSON"),
                ));
            }
        }
        if !problems.is_empty() {
            // Every problem at once: the server_side too.
            problems.append(&mut server_side);
            problems.truncate(betflow_domain::text::MAX_REPORTED);
            return Err(DomainError::Validation(problems).into());
        }
        // Names valid one by one but given twice, or a value's JSON over the size limit: the
        // request's schema cannot say so, so this is a 422 (with the same code and details
        // shape as the checks above).
        if !server_side.is_empty() {
            server_side.truncate(betflow_domain::text::MAX_REPORTED);
            let message = server_side
                .iter()
                .map(|v| format!("{}: {}", v.field, v.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
                "VALIDATION_ERROR",
                message,
                Some(serde_json::json!(server_side)),
            ));
        }
        let d = self.definition(definition_key).await?;
        let t = now();
        let mut tx = self.store.begin().await?;
        let existing: HashMap<String, StoredVariable> = tx
            .variables_in_tx(d.id)
            .await?
            .into_iter()
            .map(|v| (v.name.clone(), v))
            .collect();
        let mut rows = Vec::with_capacity(vars.len());
        for v in vars {
            let old = existing.get(&v.name);
            let created_at = old.map_or(t, |o| o.created_at);
            let row = if v.secret {
                let keep = v.value.as_str() == Some(MASK) && old.is_some_and(|o| o.is_secret);
                match old.filter(|_| keep) {
                    Some(o) => StoredVariable {
                        updated_at: o.updated_at,
                        ..o.clone()
                    },
                    None => {
                        let text = serde_json::to_string(&v.value)
                            .map_err(|e| EngineError::Internal(e.to_string()))?;
                        StoredVariable {
                            definition_id: d.id,
                            value: self.keyring.encrypt_str(
                                VARIABLE_PURPOSE,
                                &variable_row(d.id, &v.name),
                                &text,
                            )?,
                            name: v.name,
                            is_secret: true,
                            key_id: Some(self.keyring.current_id().to_owned()),
                            created_at,
                            updated_at: t,
                        }
                    }
                }
            } else {
                let text = serde_json::to_string(&v.value)
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
                let unchanged = old.is_some_and(|o| !o.is_secret && o.value == text);
                StoredVariable {
                    definition_id: d.id,
                    name: v.name,
                    value: text,
                    is_secret: false,
                    key_id: None,
                    created_at,
                    updated_at: if unchanged {
                        old.map_or(t, |o| o.updated_at)
                    } else {
                        t
                    },
                }
            };
            rows.push(row);
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        tx.replace_variables(d.id, &rows).await?;
        let mut before: Vec<StoredVariable> = existing.into_values().collect();
        before.sort_by(|a, b| a.name.cmp(&b.name));
        let before: Vec<VariableView> = before.iter().map(view).collect();
        let after: Vec<VariableView> = rows.iter().map(view).collect();
        let entry = AuditEntry::new(
            "workflow_variables",
            d.id,
            AuditAction::Update,
            Some(audit_picture(&before)),
            Some(audit_picture(&after)),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Every variable of a definition with secret values decrypted, for expressions
    /// (`vars.<name>`). Never return this to a client or log it.
    pub async fn vars_for(&self, definition_id: Uuid) -> Result<Map<String, Value>, EngineError> {
        let mut out = Map::new();
        for v in self.store.list_variables(definition_id).await? {
            let text = if v.is_secret {
                self.keyring
                    .decrypt_str(
                        VARIABLE_PURPOSE,
                        &variable_row(definition_id, &v.name),
                        &v.value,
                    )?
                    .into_inner()
            } else {
                v.value
            };
            let value = serde_json::from_str(&text)
                .map_err(|_| EngineError::Internal(format!("variable {} holds no JSON", v.name)))?;
            out.insert(v.name, value);
        }
        Ok(out)
    }
}
