//! Customer profiles and preferences, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::sportsbook::customers::{Preferences, Profile, VerificationStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros};
use super::{BackendStore, BackendTx, Db};
use crate::{CustomerRead, CustomerWrite, Result};

const PROFILE: &str = "user_id, first_name, last_name, date_of_birth, phone, country_code, \
    timezone, language_code, currency_code, verification_status, created_at, updated_at";
const PREFS: &str = "user_id, odds_format, notifications, responsible_gaming, ui_preferences, \
    created_at, updated_at";

#[derive(FromRow)]
struct ProfileRow {
    user_id: Uuid,
    first_name: Option<String>,
    last_name: Option<String>,
    date_of_birth: NaiveDate,
    phone: Option<String>,
    country_code: String,
    timezone: String,
    language_code: String,
    currency_code: String,
    verification_status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct PrefsRow {
    user_id: Uuid,
    odds_format: String,
    notifications: Json<Value>,
    responsible_gaming: Json<Value>,
    ui_preferences: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[async_trait]
impl CustomerRead for BackendStore {
    async fn get_profile(&self, user_id: Uuid) -> Result<Option<Profile>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {PROFILE} FROM user_profiles WHERE user_id = "
        ));
        qb.push_bind(user_id);
        let row: Option<ProfileRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(Profile {
                user_id: r.user_id,
                first_name: r.first_name,
                last_name: r.last_name,
                date_of_birth: r.date_of_birth,
                phone: r.phone,
                country_code: r.country_code,
                timezone: r.timezone,
                language_code: r.language_code,
                currency_code: r.currency_code,
                verification_status: VerificationStatus::parse(&r.verification_status)
                    .ok_or_else(|| corrupt("user_profiles", r.verification_status.clone()))?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .transpose()
    }

    async fn get_preferences(&self, user_id: Uuid) -> Result<Option<Preferences>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {PREFS} FROM user_preferences WHERE user_id = "
        ));
        qb.push_bind(user_id);
        let row: Option<PrefsRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(Preferences {
                user_id: r.user_id,
                odds_format: r
                    .odds_format
                    .parse()
                    .map_err(|e| corrupt("user_preferences", e))?,
                notifications: r.notifications.0,
                responsible_gaming: r.responsible_gaming.0,
                ui_preferences: r.ui_preferences.0,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl CustomerWrite for BackendTx {
    async fn insert_profile(&mut self, p: &Profile) -> Result<()> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("INSERT INTO user_profiles ({PROFILE}) VALUES ("));
        let mut v = qb.separated(", ");
        v.push_bind(p.user_id)
            .push_bind(p.first_name.clone())
            .push_bind(p.last_name.clone())
            .push_bind(p.date_of_birth)
            .push_bind(p.phone.clone())
            .push_bind(p.country_code.clone())
            .push_bind(p.timezone.clone())
            .push_bind(p.language_code.clone())
            .push_bind(p.currency_code.clone())
            .push_bind(p.verification_status.as_str())
            .push_bind(micros(p.created_at))
            .push_bind(micros(p.updated_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn set_verification(
        &mut self,
        user_id: Uuid,
        status: VerificationStatus,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_profiles SET verification_status = ");
        qb.push_bind(status.as_str())
            .push(", updated_at = ")
            .push_bind(micros(at))
            .push(" WHERE user_id = ")
            .push_bind(user_id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn save_preferences(&mut self, p: &Preferences, update: bool) -> Result<bool> {
        let format = match p.odds_format {
            betflow_domain::sportsbook::odds::OddsFormat::American => "american",
            betflow_domain::sportsbook::odds::OddsFormat::Decimal => "decimal",
            betflow_domain::sportsbook::odds::OddsFormat::Fractional => "fractional",
        };
        let mut qb = if update {
            let mut qb = QueryBuilder::<Db>::new("UPDATE user_preferences SET odds_format = ");
            qb.push_bind(format)
                .push(", notifications = ")
                .push_bind(Json(p.notifications.clone()))
                .push(", responsible_gaming = ")
                .push_bind(Json(p.responsible_gaming.clone()))
                .push(", ui_preferences = ")
                .push_bind(Json(p.ui_preferences.clone()))
                .push(", updated_at = ")
                .push_bind(micros(p.updated_at))
                .push(" WHERE user_id = ")
                .push_bind(p.user_id);
            qb
        } else {
            let mut qb =
                QueryBuilder::<Db>::new(format!("INSERT INTO user_preferences ({PREFS}) VALUES ("));
            let mut v = qb.separated(", ");
            v.push_bind(p.user_id)
                .push_bind(format)
                .push_bind(Json(p.notifications.clone()))
                .push_bind(Json(p.responsible_gaming.clone()))
                .push_bind(Json(p.ui_preferences.clone()))
                .push_bind(micros(p.created_at))
                .push_bind(micros(p.updated_at));
            qb.push(")");
            qb
        };
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }
}
