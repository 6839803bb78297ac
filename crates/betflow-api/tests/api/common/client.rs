//! A typed test client: one method per resource a test drives, each answering a [`Reply`]
//! whose fluent checks say what the test expects, e.g.
//! `s.deposit(&token, 600).await.refused(422, "LIMIT_EXCEEDED")` or
//! `s.place(&token, body).await.created()["id"]`.
//!
//! The checks are `#[track_caller]`, so a failure points at the test's line and prints the
//! request and the whole answer.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;

/// One answer: its status, its JSON body (`null` when there is none) and whether it was an
/// idempotent replay.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
    pub headers: reqwest::header::HeaderMap,
    request: String,
}

impl Reply {
    /// Asserts `status` and returns the whole body.
    #[track_caller]
    pub fn status(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: want {status}, got {}: {}",
            self.request, self.status, self.body
        );
        self.body
    }

    /// Asserts 200 and returns `data`.
    #[track_caller]
    pub fn ok(self) -> Value {
        self.status(200)["data"].take()
    }

    /// Asserts 201 and returns `data`.
    #[track_caller]
    pub fn created(self) -> Value {
        self.status(201)["data"].take()
    }

    /// Asserts 201 and returns the created object's `id`.
    #[track_caller]
    pub fn created_id(self) -> String {
        let data = self.created();
        data["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {data}"))
            .to_owned()
    }

    /// Asserts the refusal's status and stable code; returns the `error` object (its
    /// `details`, `message`, ...).
    #[track_caller]
    pub fn refused(self, status: u16, code: &str) -> Value {
        let request = self.request.clone();
        let mut body = self.status(status);
        assert_eq!(
            body["error"]["code"], code,
            "{request}: want {status} {code}: {body}"
        );
        body["error"].take()
    }

    /// Like [`Reply::refused`], and also checks the whole error envelope every refusal
    /// shares: a JSON content type, `success: false`, a non-empty message and an RFC 3339
    /// `timestamp`.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> Value {
        let request = self.request.clone();
        let content_type = self.header("content-type").to_owned();
        let body = self.body.clone();
        let error = self.refused(status, code);
        assert!(
            content_type.starts_with("application/json"),
            "{request}: content-type {content_type}"
        );
        assert_eq!(body["success"], false, "{request}: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{request}: {body}"
        );
        assert!(
            body["timestamp"]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
            "{request}: {body}"
        );
        error
    }

    /// A response header's value, or "" when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts whether the answer was an idempotent replay; passes it on.
    #[track_caller]
    pub fn replay(self, replayed: bool) -> Self {
        assert_eq!(
            self.replayed, replayed,
            "{}: replayed? {}",
            self.request, self.body
        );
        self
    }

    /// Adds what the test was checking to any failure's message.
    pub fn note(mut self, note: impl std::fmt::Display) -> Self {
        self.request = format!("{} ({note})", self.request);
        self
    }

    /// (status, whole body), for a test that decides what to expect from the answer.
    pub fn into_parts(self) -> (u16, Value) {
        (self.status, self.body)
    }

    /// The error code, or "" when the answer is no error.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Plain requests as the holder of a token.
impl TestServer {
    /// Sends `body` (if any) to `path` as the holder of `token`, with an `Idempotency-Key`
    /// when `key` is given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = self.with_token(method, path, token);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.reply(req).await
    }

    /// Sends a request built by hand (other headers, no token, ...) and answers its [`Reply`].
    pub async fn reply(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = req.build().unwrap();
        let request = format!("{} {}", req.method(), req.url().path());
        let res = self.client.execute(req).await.unwrap();
        let replayed = res.headers().get("idempotent-replayed").is_some();
        let headers = res.headers().clone();
        Reply {
            status: res.status().as_u16(),
            body: res.json().await.unwrap_or(Value::Null),
            replayed,
            headers,
            request,
        }
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.send(Method::GET, path, token, None, None).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body), None).await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, token: &str, path: &str) -> Reply {
        self.send(Method::POST, path, token, None, None).await
    }

    pub async fn put_as(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, token, Some(body), None).await
    }

    pub async fn patch_as(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body), None)
            .await
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> Reply {
        self.send(Method::DELETE, path, token, None, None).await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, token: &str, path: &str, key: &str, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body), Some(key))
            .await
    }
}

/// The wallet and responsible gambling.
impl TestServer {
    /// Requests a deposit of `amount` minor units.
    pub async fn deposit(&self, token: &str, amount: i64) -> Reply {
        self.deposit_with(token, json!({ "amount": amount })).await
    }

    pub async fn deposit_with(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/wallet/deposits", body).await
    }

    /// Requests a withdrawal of `amount` minor units.
    pub async fn withdraw(&self, token: &str, amount: i64) -> Reply {
        self.post_as(
            token,
            "/api/v1/wallet/withdrawals",
            json!({ "amount": amount }),
        )
        .await
    }

    /// Resolves a pending deposit or withdrawal (`{"status": "completed", ...}`).
    pub async fn resolve(&self, token: &str, transaction: &str, body: Value) -> Reply {
        let path = format!("/api/v1/wallet/transactions/{transaction}/resolve");
        self.post_as(token, &path, body).await
    }

    pub async fn wallet(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/wallet").await
    }

    pub async fn transaction(&self, token: &str, id: &str) -> Reply {
        let path = format!("/api/v1/wallet/transactions/{id}");
        self.get_as(token, &path).await
    }

    pub async fn reconciliation(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/wallet/reconciliation").await
    }

    /// Sets one of the caller's limits (`{"kind", "period", "amount"}`).
    pub async fn set_limit(&self, token: &str, body: Value) -> Reply {
        self.put_as(token, "/api/v1/me/limits", body).await
    }

    /// The caller's limits and any exclusion.
    pub async fn limits(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/me/limits").await
    }

    /// The caller's user, customer profile and preferences.
    pub async fn profile(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/me/profile").await
    }

    pub async fn patch_preferences(&self, token: &str, body: Value) -> Reply {
        self.patch_as(token, "/api/v1/me/preferences", body).await
    }

    /// Takes a break or a self-exclusion (`{"type", "days" | "months"}`).
    pub async fn take_break(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/me/breaks", body).await
    }
}

/// The sportsbook: bets, markets and selections.
impl TestServer {
    pub async fn place(&self, token: &str, bet: Value) -> Reply {
        self.post_as(token, "/api/v1/bets", bet).await
    }

    pub async fn bet(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/bets/{id}")).await
    }

    /// Runs `verb` (`suspend`, `reopen`, `settle`, `resettle`, `void`, ...) on a market.
    pub async fn market_action(
        &self,
        token: &str,
        market: &str,
        verb: &str,
        body: Option<Value>,
    ) -> Reply {
        let path = format!("/api/v1/markets/{market}/{verb}");
        self.send(Method::POST, &path, token, body, None).await
    }

    pub async fn settle(&self, token: &str, market: &str, results: Value) -> Reply {
        self.market_action(token, market, "settle", Some(results))
            .await
    }

    pub async fn patch_market(&self, token: &str, market: &str, body: Value) -> Reply {
        self.patch_as(token, &format!("/api/v1/markets/{market}"), body)
            .await
    }

    pub async fn market(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/markets/{id}")).await
    }

    pub async fn event(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/events/{id}")).await
    }

    pub async fn new_selection(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/selections", body).await
    }

    pub async fn selection(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/selections/{id}"))
            .await
    }

    /// A selection's price history.
    pub async fn prices(&self, token: &str, selection: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/selections/{selection}/prices"))
            .await
    }

    pub async fn patch_selection(&self, token: &str, selection: &str, body: Value) -> Reply {
        self.patch_as(token, &format!("/api/v1/selections/{selection}"), body)
            .await
    }
}

/// Workflows and their tasks.
impl TestServer {
    /// Creates a workflow from a full body (`{"workflowType", "data", ...}`).
    pub async fn create_workflow(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/workflows", body).await
    }

    pub async fn workflow(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/workflows/{id}")).await
    }

    /// Replaces a workflow's editable fields (`{"data": ...}`, ...).
    pub async fn update_workflow(&self, token: &str, id: &str, body: Value) -> Reply {
        self.put_as(token, &format!("/api/v1/workflows/{id}"), body)
            .await
    }

    /// Runs `verb` (`approve`, `reject`, `cancel`, `start`, ...) on a workflow.
    pub async fn act(&self, token: &str, id: &str, verb: &str, body: Option<Value>) -> Reply {
        let path = format!("/api/v1/workflows/{id}/{verb}");
        self.send(Method::POST, &path, token, body, None).await
    }

    /// Approves a workflow's current step without a body.
    pub async fn approve(&self, token: &str, id: &str) -> Reply {
        self.act(token, id, "approve", None).await
    }

    pub async fn complete_task(&self, token: &str, id: &str, body: Option<Value>) -> Reply {
        let path = format!("/api/v1/tasks/{id}/complete");
        self.send(Method::POST, &path, token, body, None).await
    }
}

/// Sessions, users, API keys and the audit log.
impl TestServer {
    /// Tries to log in; unlike [`TestServer::login`], whatever the answer.
    pub async fn try_login(&self, user: &str, password: &str) -> Reply {
        let req = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": password}));
        self.reply(req).await
    }

    /// Logs in and returns the access token; panics unless 200.
    pub async fn token(&self, user: &str, password: &str) -> String {
        self.login(user, password).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn me(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/auth/me").await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let req = self
            .client
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({"refreshToken": refresh_token}));
        self.reply(req).await
    }

    pub async fn logout(&self, token: &str) -> Reply {
        self.post_empty(token, "/api/v1/auth/logout").await
    }

    /// Self-registration (no token).
    pub async fn register(&self, body: Value) -> Reply {
        let req = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&body);
        self.reply(req).await
    }

    pub async fn users(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/users").await
    }

    pub async fn user(&self, token: &str, id: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/users/{id}")).await
    }

    /// Creates a user, whatever the answer (see [`TestServer::create_user`] for the
    /// asserting form).
    pub async fn new_user(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/users", body).await
    }

    pub async fn patch_user(&self, token: &str, id: &str, body: Value) -> Reply {
        self.patch_as(token, &format!("/api/v1/users/{id}"), body)
            .await
    }

    pub async fn unlock(&self, token: &str, id: &str) -> Reply {
        self.post_empty(token, &format!("/api/v1/users/{id}/unlock"))
            .await
    }

    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Reply {
        self.post_as(
            token,
            "/api/v1/users/me/password",
            json!({"currentPassword": current, "newPassword": new}),
        )
        .await
    }

    pub async fn create_key(&self, token: &str, body: Value) -> Reply {
        self.post_as(token, "/api/v1/api-keys", body).await
    }

    pub async fn api_keys(&self, token: &str) -> Reply {
        self.get_as(token, "/api/v1/api-keys").await
    }

    pub async fn revoke_key(&self, token: &str, id: &str) -> Reply {
        self.delete_as(token, &format!("/api/v1/api-keys/{id}"))
            .await
    }

    /// Sends `body` (if any) to `path` with an API key in the `x-api-key` header.
    pub async fn with_key(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("x-api-key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.reply(req).await
    }

    /// The audit log; `query` is the query string without `?` ("" for none).
    pub async fn audit_logs(&self, token: &str, query: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/audit-logs?{query}"))
            .await
    }
}

/// Workflow definitions: editing, the filtered list and drafts.
impl TestServer {
    /// Creates (imports) a definition from a full document.
    pub async fn create_definition(&self, token: &str, doc: Value) -> Reply {
        self.post_as(token, "/api/v1/workflow-definitions", doc)
            .await
    }

    pub async fn get_definition(&self, token: &str, key: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/workflow-definitions/{key}"))
            .await
    }

    /// The list; `query` is the query string without `?` ("" for none).
    pub async fn definitions(&self, token: &str, query: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/workflow-definitions?{query}"))
            .await
    }

    pub async fn patch_definition(&self, token: &str, key: &str, body: Value) -> Reply {
        self.patch_as(token, &format!("/api/v1/workflow-definitions/{key}"), body)
            .await
    }

    pub async fn delete_definition(&self, token: &str, key: &str) -> Reply {
        self.delete_as(token, &format!("/api/v1/workflow-definitions/{key}"))
            .await
    }

    pub async fn definition_versions(&self, token: &str, key: &str) -> Reply {
        self.get_as(
            token,
            &format!("/api/v1/workflow-definitions/{key}/versions"),
        )
        .await
    }

    /// Opens a draft; `from` is `latest` or `empty` (`None`: no body).
    pub async fn open_draft(&self, token: &str, key: &str, from: Option<&str>) -> Reply {
        let path = format!("/api/v1/workflow-definitions/{key}/draft");
        let body = from.map(|f| json!({ "from": f }));
        self.send(Method::POST, &path, token, body, None).await
    }

    pub async fn draft(&self, token: &str, key: &str) -> Reply {
        self.get_as(token, &format!("/api/v1/workflow-definitions/{key}/draft"))
            .await
    }

    pub async fn add_draft_step(&self, token: &str, key: &str, step: Value) -> Reply {
        let path = format!("/api/v1/workflow-definitions/{key}/draft/steps");
        self.post_as(token, &path, step).await
    }

    pub async fn patch_draft_step(
        &self,
        token: &str,
        key: &str,
        step: &str,
        patch: Value,
    ) -> Reply {
        let path = format!("/api/v1/workflow-definitions/{key}/draft/steps/{step}");
        self.patch_as(token, &path, patch).await
    }

    pub async fn remove_draft_step(&self, token: &str, key: &str, step: &str) -> Reply {
        let path = format!("/api/v1/workflow-definitions/{key}/draft/steps/{step}");
        self.delete_as(token, &path).await
    }

    /// Connects `from` to `to` on `branch`.
    pub async fn add_draft_edge(
        &self,
        token: &str,
        key: &str,
        from: &str,
        to: &str,
        branch: &str,
    ) -> Reply {
        let path = format!("/api/v1/workflow-definitions/{key}/draft/edges");
        self.post_as(
            token,
            &path,
            json!({"from": from, "to": to, "branch": branch}),
        )
        .await
    }

    pub async fn remove_draft_edge(
        &self,
        token: &str,
        key: &str,
        from: &str,
        to: &str,
        branch: &str,
    ) -> Reply {
        let path = format!(
            "/api/v1/workflow-definitions/{key}/draft/edges?from={from}&to={to}&branch={branch}"
        );
        self.delete_as(token, &path).await
    }

    pub async fn publish_draft(&self, token: &str, key: &str) -> Reply {
        self.post_empty(
            token,
            &format!("/api/v1/workflow-definitions/{key}/draft/publish"),
        )
        .await
    }
}
