//! Customers (seed 002's user_profiles and user_preferences): who may register, and how they
//! like to read odds.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::odds::OddsFormat;
use crate::{DomainError, Violation};

/// Youngest age at which a customer may register.
pub const MINIMUM_AGE: u32 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    #[default]
    Unverified,
    Pending,
    Verified,
    Rejected,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Unverified,
            Self::Pending,
            Self::Verified,
            Self::Rejected,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: NaiveDate,
    pub phone: Option<String>,
    pub country_code: String,
    pub timezone: String,
    pub language_code: String,
    pub currency_code: String,
    pub verification_status: VerificationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whole years from `born` to `today`.
pub fn age(born: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

impl Profile {
    /// Checks the profile as of `today` (a parameter, so tests can move the clock).
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if self.date_of_birth > today {
            v.push(Violation::new("dateOfBirth", "is in the future"));
        } else if age(self.date_of_birth, today) < MINIMUM_AGE {
            v.push(Violation::new(
                "dateOfBirth",
                format!("customers must be at least {MINIMUM_AGE}"),
            ));
        }
        let code = |s: &str, n: usize, upper: bool| {
            s.len() == n
                && s.chars().all(|c| {
                    if upper {
                        c.is_ascii_uppercase()
                    } else {
                        c.is_ascii_lowercase()
                    }
                })
        };
        if !code(&self.country_code, 2, true) {
            v.push(Violation::new(
                "countryCode",
                "an ISO 3166 alpha-2 code such as GB",
            ));
        }
        if !code(&self.currency_code, 3, true) {
            v.push(Violation::new(
                "currencyCode",
                "an ISO 4217 code such as GBP",
            ));
        }
        if !code(&self.language_code, 2, false) {
            v.push(Violation::new(
                "languageCode",
                "an ISO 639-1 code such as en",
            ));
        }
        let tz_ok = !self.timezone.is_empty()
            && self.timezone.len() <= 50
            && self
                .timezone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        if !tz_ok {
            v.push(Violation::new(
                "timezone",
                "an IANA zone such as Europe/London",
            ));
        }
        for (field, value, max) in [
            ("firstName", &self.first_name, 100),
            ("lastName", &self.last_name, 100),
            ("phone", &self.phone, 20),
        ] {
            if value
                .as_ref()
                .is_some_and(|s| s.trim().is_empty() || s.chars().count() > max)
            {
                v.push(Violation::new(field, format!("1 to {max} characters")));
            }
            crate::text::check_name_into(&mut v, field, value.as_deref());
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    pub user_id: Uuid,
    pub odds_format: OddsFormat,
    pub notifications: Value,
    pub responsible_gaming: Value,
    pub ui_preferences: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Preferences {
    /// The seed's defaults (american odds; a reality check every 60 minutes).
    pub fn defaults(user_id: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            user_id,
            odds_format: OddsFormat::American,
            notifications: json!({"email": true, "sms": false, "push": true}),
            responsible_gaming: json!({"sessionTimeout": 120, "realityCheck": true,
                "realityCheckMinutes": 60}),
            ui_preferences: json!({"theme": "light", "language": "en"}),
            created_at: at,
            updated_at: at,
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v = Vec::new();
        for (field, value) in [
            ("notifications", &self.notifications),
            ("responsibleGaming", &self.responsible_gaming),
            ("uiPreferences", &self.ui_preferences),
        ] {
            if !value.is_object() {
                v.push(Violation::new(field, "must be a JSON object"));
            }
        }
        if let Some(m) = self.responsible_gaming.get("realityCheckMinutes")
            && m.as_u64().is_none_or(|m| !(5..=240).contains(&m))
        {
            v.push(Violation::new(
                "responsibleGaming.realityCheckMinutes",
                "must be 5 to 240 minutes",
            ));
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn eighteen_on_the_birthday_not_the_day_before() {
        assert_eq!(age(d("2008-11-23"), d("2026-11-23")), 18);
        assert_eq!(age(d("2008-11-24"), d("2026-11-23")), 17);
        assert_eq!(age(d("2008-02-29"), d("2026-02-28")), 17);
        assert_eq!(age(d("2008-02-29"), d("2026-03-01")), 18);
    }

    #[test]
    fn profiles_report_every_problem() {
        let t = Utc::now();
        let p = Profile {
            user_id: Uuid::nil(),
            first_name: Some(" ".into()),
            last_name: None,
            date_of_birth: d("2010-01-01"),
            phone: None,
            country_code: "gb".into(),
            timezone: "Europe/London; DROP".into(),
            language_code: "EN".into(),
            currency_code: "GBPX".into(),
            verification_status: VerificationStatus::Unverified,
            created_at: t,
            updated_at: t,
        };
        let DomainError::Validation(v) = p.validate(d("2026-11-23")).unwrap_err();
        assert_eq!(v.len(), 6, "{v:?}");
        let named = Profile {
            first_name: Some("Ann\u{1b}[2J".into()),
            last_name: Some("Lee".into()),
            phone: Some("+44\u{7}".into()),
            country_code: "GB".into(),
            timezone: "Europe/London".into(),
            language_code: "en".into(),
            currency_code: "GBP".into(),
            date_of_birth: d("1990-01-01"),
            ..p
        };
        let DomainError::Validation(v) = named.validate(d("2026-11-23")).unwrap_err();
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["firstName", "phone"], "{v:?}");
        let mut prefs = Preferences::defaults(Uuid::nil(), t);
        assert!(prefs.validate().is_ok());
        prefs.responsible_gaming = json!({"realityCheckMinutes": 1});
        assert!(prefs.validate().is_err());
    }
}
