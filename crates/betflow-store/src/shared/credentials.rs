//! Credentials and definition variables (seeds 003 and 004's `user_credentials` and `workflow_variable`), compiled once per backend.

use async_trait::async_trait;
use betflow_domain::automation::credentials::{StoredCredential, StoredVariable};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{micros, push_page, to_total};
use super::{BackendStore, BackendTx, Db, FOR_UPDATE};
use crate::{CredentialRead, CredentialWrite, Result};

const CREDENTIAL_COLUMNS: &str = "id, name, credential_type, owner_id, ciphertext, key_id, \
    created_at, updated_at, expires_at, last_used_at, deleted_at";
const VARIABLE_COLUMNS: &str =
    "definition_id, name, value, is_secret, key_id, created_at, updated_at";

#[derive(FromRow)]
struct CredentialRow {
    id: Uuid,
    name: String,
    credential_type: String,
    owner_id: Option<Uuid>,
    ciphertext: String,
    key_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<CredentialRow> for StoredCredential {
    fn from(r: CredentialRow) -> Self {
        StoredCredential {
            id: r.id,
            name: r.name,
            kind: r.credential_type,
            owner_id: r.owner_id,
            ciphertext: r.ciphertext,
            key_id: r.key_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            deleted_at: r.deleted_at,
        }
    }
}

#[derive(FromRow)]
struct VariableRow {
    definition_id: Uuid,
    name: String,
    value: String,
    is_secret: bool,
    key_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<VariableRow> for StoredVariable {
    fn from(r: VariableRow) -> Self {
        StoredVariable {
            definition_id: r.definition_id,
            name: r.name,
            value: r.value,
            is_secret: r.is_secret,
            key_id: r.key_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn select_variables(definition_id: Uuid) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT {VARIABLE_COLUMNS} FROM workflow_variables WHERE definition_id = "
    ));
    qb.push_bind(definition_id).push(" ORDER BY name");
    qb
}

#[async_trait]
impl CredentialRead for BackendStore {
    async fn get_credential(&self, id: Uuid) -> Result<Option<StoredCredential>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM user_credentials WHERE id = "
        ));
        qb.push_bind(id);
        let row: Option<CredentialRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(StoredCredential::from))
    }

    async fn list_credentials(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<StoredCredential>> {
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(" WHERE deleted_at IS NULL");
            if let Some(o) = owner {
                qb.push(" AND owner_id = ").push_bind(o);
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM user_credentials");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {CREDENTIAL_COLUMNS} FROM user_credentials"));
        filter(&mut qb);
        qb.push(" ORDER BY created_at, id");
        push_page(&mut qb, page);
        let rows: Vec<CredentialRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter().map(StoredCredential::from).collect(),
            to_total(total),
            page,
        ))
    }

    async fn credentials_not_under(
        &self,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredCredential>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM user_credentials WHERE key_id <> "
        ));
        qb.push_bind(key_id.to_owned())
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<CredentialRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(StoredCredential::from).collect())
    }

    async fn list_variables(&self, definition_id: Uuid) -> Result<Vec<StoredVariable>> {
        let rows: Vec<VariableRow> = select_variables(definition_id)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(StoredVariable::from).collect())
    }

    async fn variables_not_under(&self, key_id: &str, limit: u32) -> Result<Vec<StoredVariable>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {VARIABLE_COLUMNS} FROM workflow_variables WHERE key_id IS NOT NULL \
             AND key_id <> "
        ));
        qb.push_bind(key_id.to_owned())
            .push(" ORDER BY definition_id, name LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<VariableRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(StoredVariable::from).collect())
    }

    async fn inbound_secrets_not_under(
        &self,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<(Uuid, String)>> {
        // A key id is hex: the prefix holds no LIKE wildcard.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, secret FROM inbound_webhook_endpoints WHERE secret NOT LIKE ",
        );
        qb.push_bind(format!("v1:{key_id}:%"))
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<(Uuid, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows)
    }
}

#[async_trait]
impl CredentialWrite for BackendTx {
    async fn insert_credential(&mut self, c: &StoredCredential) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO user_credentials ({CREDENTIAL_COLUMNS}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(c.id)
            .push_bind(c.name.clone())
            .push_bind(c.kind.clone())
            .push_bind(c.owner_id)
            .push_bind(c.ciphertext.clone())
            .push_bind(c.key_id.clone())
            .push_bind(micros(c.created_at))
            .push_bind(micros(c.updated_at))
            .push_bind(c.expires_at.map(micros))
            .push_bind(c.last_used_at.map(micros))
            .push_bind(c.deleted_at.map(micros));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_credential(&mut self, id: Uuid) -> Result<Option<StoredCredential>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM user_credentials WHERE id = "
        ));
        qb.push_bind(id).push(FOR_UPDATE);
        let row: Option<CredentialRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        Ok(row.map(StoredCredential::from))
    }

    async fn update_credential(&mut self, c: &StoredCredential) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_credentials SET name = ");
        qb.push_bind(c.name.clone())
            .push(", ciphertext = ")
            .push_bind(c.ciphertext.clone())
            .push(", key_id = ")
            .push_bind(c.key_id.clone())
            .push(", updated_at = ")
            .push_bind(micros(c.updated_at))
            .push(", expires_at = ")
            .push_bind(c.expires_at.map(micros))
            .push(", last_used_at = ")
            .push_bind(c.last_used_at.map(micros))
            .push(", deleted_at = ")
            .push_bind(c.deleted_at.map(micros))
            .push(" WHERE id = ")
            .push_bind(c.id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn mark_credential_used(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_credentials SET last_used_at = ");
        qb.push_bind(micros(at)).push(" WHERE id = ").push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn reencrypt_credential(
        &mut self,
        id: Uuid,
        old: &str,
        new: &str,
        key_id: &str,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_credentials SET ciphertext = ");
        qb.push_bind(new.to_owned())
            .push(", key_id = ")
            .push_bind(key_id.to_owned())
            .push(" WHERE id = ")
            .push_bind(id)
            .push(" AND ciphertext = ")
            .push_bind(old.to_owned());
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn variables_in_tx(&mut self, definition_id: Uuid) -> Result<Vec<StoredVariable>> {
        let rows: Vec<VariableRow> = select_variables(definition_id)
            .build_query_as()
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows.into_iter().map(StoredVariable::from).collect())
    }

    async fn replace_variables(
        &mut self,
        definition_id: Uuid,
        variables: &[StoredVariable],
    ) -> Result<()> {
        let mut qb =
            QueryBuilder::<Db>::new("DELETE FROM workflow_variables WHERE definition_id = ");
        qb.push_bind(definition_id);
        qb.build().execute(&mut *self.tx).await?;
        if variables.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO workflow_variables ({VARIABLE_COLUMNS}) "
        ));
        qb.push_values(variables, |mut v, x| {
            v.push_bind(definition_id)
                .push_bind(x.name.clone())
                .push_bind(x.value.clone())
                .push_bind(x.is_secret)
                .push_bind(x.key_id.clone())
                .push_bind(micros(x.created_at))
                .push_bind(micros(x.updated_at));
        });
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn reencrypt_variable(
        &mut self,
        definition_id: Uuid,
        name: &str,
        old: &str,
        new: &str,
        key_id: &str,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_variables SET value = ");
        qb.push_bind(new.to_owned())
            .push(", key_id = ")
            .push_bind(key_id.to_owned())
            .push(" WHERE definition_id = ")
            .push_bind(definition_id)
            .push(" AND name = ")
            .push_bind(name.to_owned())
            .push(" AND is_secret AND value = ")
            .push_bind(old.to_owned());
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn reencrypt_inbound_secret(&mut self, id: Uuid, old: &str, new: &str) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE inbound_webhook_endpoints SET secret = ");
        qb.push_bind(new.to_owned())
            .push(" WHERE id = ")
            .push_bind(id)
            .push(" AND secret = ")
            .push_bind(old.to_owned());
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn reencrypt_webhook_secrets(
        &mut self,
        id: Uuid,
        old: (&str, Option<&str>),
        new: (&str, Option<&str>),
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE webhooks SET secret = ");
        qb.push_bind(new.0.to_owned())
            .push(", previous_secret = ")
            .push_bind(new.1.map(str::to_owned))
            .push(" WHERE id = ")
            .push_bind(id)
            .push(" AND secret = ")
            .push_bind(old.0.to_owned());
        match old.1 {
            Some(p) => qb.push(" AND previous_secret = ").push_bind(p.to_owned()),
            None => qb.push(" AND previous_secret IS NULL"),
        };
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }
}
