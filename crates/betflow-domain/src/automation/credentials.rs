//! Automations: credentials and definition variables (seeds 003 and 004's
//! `user_credentials` and `workflow_variable`), and the encryption key's format.
//!
//! Pure rules only: the credential types and the fields each needs, the checks a credential's
//! data and a variable must pass, the rows as the store keeps them (ciphertext, never
//! plaintext), whether a definition's graph names a credential, and how
//! `BETFLOW_ENCRYPTION_KEY` is written. The encryption itself is the engine's.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Violation;
use crate::refusal::{Refusal, RefusalKind};
use crate::text::{MAX_REPORTED, check_name};
use crate::workflow::graph::WorkflowGraph;

/// What a masked secret reads as wherever it is shown (variables, audit rows).
pub const MASK: &str = "********";

/// The longest credential name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest value of one credential field, in bytes.
pub const MAX_FIELD_BYTES: usize = 8192;

/// The longest variable name, in characters.
pub const MAX_VARIABLE_NAME: usize = 64;

/// The most variables one definition may have.
pub const MAX_VARIABLES: usize = 200;

/// The largest variable value (its JSON text), in bytes.
pub const MAX_VARIABLE_BYTES: usize = 16 * 1024;

// --- The encryption key -------------------------------------------------------------------

/// Why `BETFLOW_ENCRYPTION_KEY` was refused. The message never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key is empty")]
    Empty,
    #[error(
        "the key must be 32 bytes written as 64 hex characters or as base64 (got {0} characters \
         that are neither); generate one with `openssl rand -hex 32`"
    )]
    Malformed(usize),
    #[error(
        "the key decodes to {0} bytes; AES-256 needs exactly 32 (64 hex characters, or base64 \
         of 32 bytes); generate one with `openssl rand -hex 32`"
    )]
    WrongLength(usize),
}

/// Parses an AES-256 key: 64 hex characters, or standard or URL-safe base64 (padded or not)
/// of exactly 32 bytes. Surrounding white space is ignored; anything else is refused.
pub fn parse_encryption_key(input: &str) -> Result<[u8; 32], KeyFormatError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut key = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| KeyFormatError::Malformed(s.len()))?;
            key[i] = u8::from_str_radix(hex, 16).map_err(|_| KeyFormatError::Malformed(s.len()))?;
        }
        return Ok(key);
    }
    if s.len() != 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.len().is_multiple_of(2) {
        // Hex of the wrong length: say so rather than try it as base64.
        return Err(KeyFormatError::WrongLength(s.len() / 2));
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let decoded = engines
        .iter()
        .find_map(|e| e.decode(s).ok())
        .ok_or(KeyFormatError::Malformed(s.chars().count()))?;
    <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| KeyFormatError::WrongLength(decoded.len()))
}

// --- Credential types ---------------------------------------------------------------------

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Any non-empty text.
    String,
    /// An absolute `http://` or `https://` URL.
    Url,
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// One of these words.
    Enum(&'static [&'static str]),
}

/// One field of a credential type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialField {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
    /// Encrypted like every field, and never shown back, even masked in part.
    pub secret: bool,
    pub description: &'static str,
}

/// A kind of credential and the fields it needs (`GET /api/v1/credential-types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialType {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub fields: &'static [CredentialField],
}

const fn field(
    name: &'static str,
    kind: FieldType,
    required: bool,
    secret: bool,
    description: &'static str,
) -> CredentialField {
    CredentialField {
        name,
        kind,
        required,
        secret,
        description,
    }
}

use FieldType::{String as Text, Url};

/// Every credential type, in the order the registry lists them.
pub const CREDENTIAL_TYPES: &[CredentialType] = &[
    CredentialType {
        key: "http_bearer",
        name: "HTTP bearer token",
        description: "Sent as `Authorization: Bearer <token>`.",
        fields: &[field("token", Text, true, true, "The bearer token.")],
    },
    CredentialType {
        key: "http_basic",
        name: "HTTP basic authentication",
        description: "Sent as `Authorization: Basic base64(username:password)`.",
        fields: &[
            field("username", Text, true, false, "The user name."),
            field("password", Text, true, true, "The password."),
        ],
    },
    CredentialType {
        key: "api_key_header",
        name: "API key in a header",
        description: "Sent as the named header with the key as its value.",
        fields: &[
            field(
                "header",
                Text,
                true,
                false,
                "The header's name, e.g. `X-API-Key`.",
            ),
            field("value", Text, true, true, "The key."),
        ],
    },
    CredentialType {
        key: "oauth2_client_credentials",
        name: "OAuth 2.0 client credentials",
        description: "A token fetched from the token URL with the client's id and secret, \
                      cached until it expires, sent as a bearer token.",
        fields: &[
            field("tokenUrl", Url, true, false, "The token endpoint."),
            field("clientId", Text, true, false, "The client id."),
            field("clientSecret", Text, true, true, "The client secret."),
            field("scope", Text, false, false, "Scopes, space-separated."),
        ],
    },
    CredentialType {
        key: "smtp",
        name: "SMTP server",
        description: "A mail server for `email.send`.",
        fields: &[
            field("host", Text, true, false, "The server's host name."),
            field(
                "port",
                FieldType::Integer { min: 1, max: 65535 },
                true,
                false,
                "The server's port.",
            ),
            field(
                "tls",
                FieldType::Enum(&["none", "starttls", "tls"]),
                true,
                false,
                "none, starttls (upgrade a plain connection) or tls (implicit TLS).",
            ),
            field(
                "username",
                Text,
                false,
                false,
                "The login, if the server needs one.",
            ),
            field("password", Text, false, true, "The login's password."),
            field("from", Text, false, false, "The default sender address."),
        ],
    },
    CredentialType {
        key: "sms_provider",
        name: "SMS provider",
        description: "An HTTP SMS provider's API for `sms.send`.",
        fields: &[
            field("baseUrl", Url, true, false, "The provider's API base URL."),
            field("account", Text, true, false, "The account id."),
            field("token", Text, true, true, "The API token."),
            field("sender", Text, true, false, "The sender id or number."),
        ],
    },
];

/// The type with this key.
pub fn credential_type(key: &str) -> Option<&'static CredentialType> {
    CREDENTIAL_TYPES.iter().find(|t| t.key == key)
}

/// A credential's type and fields are checked against the registry, which the request's
/// schema cannot express (any object is a valid `data`): a refusal is a 422.
fn refused(code: &'static str, message: String, details: Option<Value>) -> Refusal {
    Refusal::new(RefusalKind::Unprocessable, code, message, details)
}

/// Refuses an unknown type with `UNKNOWN_CREDENTIAL_TYPE` (and the known ones in details).
pub fn known_type(key: &str) -> Result<&'static CredentialType, Refusal> {
    credential_type(key).ok_or_else(|| {
        let known: Vec<&str> = CREDENTIAL_TYPES.iter().map(|t| t.key).collect();
        refused(
            "UNKNOWN_CREDENTIAL_TYPE",
            format!("type: no credential type {key:?}"),
            Some(serde_json::json!({ "known": known })),
        )
    })
}

fn check_field(f: &CredentialField, value: &Value) -> Result<Value, String> {
    match f.kind {
        FieldType::String | FieldType::Url => {
            let s = value.as_str().ok_or("must be a string")?;
            if s.trim().is_empty() {
                return Err("must not be empty".into());
            }
            if s.len() > MAX_FIELD_BYTES {
                return Err(format!("must be at most {MAX_FIELD_BYTES} bytes"));
            }
            if s.contains('\0') {
                return Err("must not contain NUL".into());
            }
            if f.kind == FieldType::Url {
                let t = s.trim();
                let rest = t
                    .strip_prefix("https://")
                    .or_else(|| t.strip_prefix("http://"))
                    .ok_or("must be an absolute http:// or https:// URL")?;
                if rest.is_empty() || rest.starts_with('/') || t.chars().any(char::is_whitespace) {
                    return Err("must be an absolute http:// or https:// URL".into());
                }
                return Ok(Value::String(t.to_owned()));
            }
            Ok(Value::String(s.to_owned()))
        }
        FieldType::Integer { min, max } => {
            let n = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or("must be a whole number")?;
            if n < min || n > max {
                return Err(format!("must be between {min} and {max}"));
            }
            Ok(Value::from(n))
        }
        FieldType::Enum(words) => {
            let s = value.as_str().ok_or("must be a string")?;
            if !words.contains(&s) {
                return Err(format!("must be one of {}", words.join(", ")));
            }
            Ok(Value::String(s.to_owned()))
        }
    }
}

/// Checks a credential's data against its type: every field known and well formed, every
/// required one present. Every problem is reported at once as `INVALID_CREDENTIAL_DATA`
/// with `details` = `[{field, message}]`; messages never repeat a value. Returns the data
/// normalised (URLs trimmed, ports as numbers); `null` fields are dropped.
pub fn check_data(
    kind: &CredentialType,
    data: &Map<String, Value>,
) -> Result<Map<String, Value>, Refusal> {
    let mut problems = Vec::new();
    let mut out = Map::new();
    for (name, value) in data {
        let Some(f) = kind.fields.iter().find(|f| f.name == name) else {
            let shown: String = name.chars().take(64).collect();
            problems.push(Violation::new(
                format!("data.{shown}"),
                format!("not a field of {}", kind.key),
            ));
            continue;
        };
        if value.is_null() {
            continue;
        }
        match check_field(f, value) {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(why) => problems.push(Violation::new(format!("data.{name}"), why)),
        }
    }
    for f in kind.fields.iter().filter(|f| f.required) {
        if !out.contains_key(f.name)
            && !problems
                .iter()
                .any(|p| p.field == format!("data.{}", f.name))
        {
            problems.push(Violation::new(format!("data.{}", f.name), "is required"));
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    problems.truncate(MAX_REPORTED);
    let message = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    Err(refused(
        "INVALID_CREDENTIAL_DATA",
        message,
        Some(serde_json::json!(problems)),
    ))
}

/// Checks a credential's name: 1 to 100 characters once trimmed, no control characters.
pub fn check_credential_name(name: &str) -> Result<String, Violation> {
    let t = name.trim();
    if t.is_empty() || t.chars().count() > MAX_NAME_CHARS {
        return Err(Violation::new(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    check_name("name", t)?;
    Ok(t.to_owned())
}

/// The data with every secret field replaced by [`MASK`] (for audit rows).
pub fn masked(kind: &CredentialType, data: &Map<String, Value>) -> Map<String, Value> {
    data.iter()
        .map(|(k, v)| {
            let secret = kind.fields.iter().any(|f| f.name == k && f.secret);
            let shown = if secret {
                Value::String(MASK.into())
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

// --- Rows ---------------------------------------------------------------------------------

/// A credential as the store keeps it: metadata in clear, the data (a JSON object of its
/// type's fields) only as ciphertext.
#[derive(Clone, PartialEq)]
pub struct StoredCredential {
    pub id: Uuid,
    pub name: String,
    /// Its type's key.
    pub kind: String,
    pub owner_id: Option<Uuid>,
    /// `v1:<keyid>:<base64(nonce||ciphertext)>` of the data's JSON.
    pub ciphertext: String,
    /// The id of the key `ciphertext` is under (also in its text), so rotation finds the rows
    /// still under an old key with an index.
    pub key_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// Seed 004's `isValid`: not deleted and not expired at `now`.
    pub fn is_valid(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A definition's variable as the store keeps it.
#[derive(Clone, PartialEq)]
pub struct StoredVariable {
    pub definition_id: Uuid,
    pub name: String,
    /// The value's JSON text when not secret; its ciphertext when secret.
    pub value: String,
    pub is_secret: bool,
    /// The key a secret value is under; `None` for a clear one.
    pub key_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredVariable")
            .field("definition_id", &self.definition_id)
            .field("name", &self.name)
            .field("is_secret", &self.is_secret)
            .finish_non_exhaustive()
    }
}

/// Checks a variable's name: an identifier expressions can reach as `vars.<name>`
/// (a letter or `_`, then letters, digits or `_`; at most 64).
pub fn check_variable_name(field: &str, name: &str) -> Result<(), Violation> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_VARIABLE_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Violation::new(
            field,
            format!(
                "must be an identifier: a letter or _, then letters, digits or _ (at most \
                 {MAX_VARIABLE_NAME})"
            ),
        ))
    }
}

// --- Use by definitions -------------------------------------------------------------------

/// The credential ids a graph's steps name in `params.credentialId`.
pub fn credential_ids(graph: &WorkflowGraph) -> Vec<Uuid> {
    graph
        .steps
        .iter()
        .filter_map(|s| s.params.as_ref()?.get("credentialId")?.as_str())
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes_only() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_encryption_key(&hex).unwrap().to_vec(), bytes);
        assert_eq!(
            parse_encryption_key(&format!("  {}\n", hex.to_uppercase()))
                .unwrap()
                .to_vec(),
            bytes
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(parse_encryption_key(&b64).unwrap().to_vec(), bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(parse_encryption_key(&url).unwrap().to_vec(), bytes);

        assert_eq!(parse_encryption_key(" "), Err(KeyFormatError::Empty));
        assert_eq!(
            parse_encryption_key(&hex[..62]),
            Err(KeyFormatError::WrongLength(31))
        );
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert_eq!(
            parse_encryption_key(&short),
            Err(KeyFormatError::WrongLength(16))
        );
        let err = parse_encryption_key("correct horse battery staple!").unwrap_err();
        assert!(matches!(err, KeyFormatError::Malformed(_)));
        assert!(!err.to_string().contains("horse"), "{err}");
    }

    #[test]
    fn every_type_has_unique_fields_and_a_secret() {
        let mut keys = std::collections::HashSet::new();
        for t in CREDENTIAL_TYPES {
            assert!(keys.insert(t.key), "{}", t.key);
            let mut names = std::collections::HashSet::new();
            for f in t.fields {
                assert!(names.insert(f.name), "{}.{}", t.key, f.name);
            }
            assert!(t.fields.iter().any(|f| f.secret), "{}", t.key);
        }
        assert!(credential_type("smtp").is_some());
        assert_eq!(
            known_type("nope").unwrap_err().code,
            "UNKNOWN_CREDENTIAL_TYPE"
        );
    }

    #[test]
    fn data_is_checked_against_its_type_with_every_problem_at_once() {
        let smtp = credential_type("smtp").unwrap();
        let ok = json!({"host": "mail.example.com", "port": "587", "tls": "starttls",
                        "password": "pw", "username": null});
        let data = check_data(smtp, ok.as_object().unwrap()).unwrap();
        assert_eq!(data["port"], json!(587));
        assert!(!data.contains_key("username"));

        let bad = json!({"host": "", "port": 70000, "tls": "ssl", "colour": "red"});
        let err = check_data(smtp, bad.as_object().unwrap()).unwrap_err();
        assert_eq!(err.code, "INVALID_CREDENTIAL_DATA");
        let fields: Vec<String> = err
            .details
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["field"].as_str().unwrap().to_owned())
            .collect();
        for f in ["data.host", "data.port", "data.tls", "data.colour"] {
            assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
        }

        let bearer = credential_type("http_bearer").unwrap();
        let err = check_data(bearer, &Map::new()).unwrap_err();
        assert!(
            err.message.contains("data.token: is required"),
            "{}",
            err.message
        );
        let err = check_data(bearer, json!({"token": 5}).as_object().unwrap()).unwrap_err();
        assert!(err.message.contains("must be a string"));

        let oauth = credential_type("oauth2_client_credentials").unwrap();
        let err = check_data(
            oauth,
            json!({"tokenUrl": "ftp://x", "clientId": "a", "clientSecret": "s3cr3t-value"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert!(err.message.contains("data.tokenUrl"));
        assert!(!err.message.contains("s3cr3t-value"));
    }

    #[test]
    fn masking_hides_only_secret_fields() {
        let basic = credential_type("http_basic").unwrap();
        let data = json!({"username": "bob", "password": "hunter2"});
        let m = masked(basic, data.as_object().unwrap());
        assert_eq!(m["username"], "bob");
        assert_eq!(m["password"], MASK);
    }

    #[test]
    fn variable_names_are_identifiers() {
        for ok in ["a", "_x", "apiBase", "limit_2"] {
            assert!(check_variable_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "2x", "a-b", "a.b", "é", &"a".repeat(65)] {
            assert!(check_variable_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_valid_until_expired_or_deleted() {
        let t = Utc::now();
        let mut c = StoredCredential {
            id: Uuid::nil(),
            name: "n".into(),
            kind: "http_bearer".into(),
            owner_id: None,
            ciphertext: "v1:x:y".into(),
            key_id: "x".into(),
            created_at: t,
            updated_at: t,
            expires_at: None,
            last_used_at: None,
            deleted_at: None,
        };
        assert!(c.is_valid(t));
        c.expires_at = Some(t);
        assert!(!c.is_valid(t));
        c.expires_at = Some(t + chrono::Duration::seconds(1));
        assert!(c.is_valid(t));
        c.deleted_at = Some(t);
        assert!(!c.is_valid(t));
        assert!(!format!("{c:?}").contains("v1:x:y"));
    }
}
