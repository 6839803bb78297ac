//! Structural checks of the generated OpenAPI document: cheap, no server and no schemathesis
//! (the contract test in `crates/betflow/tests/e2e/contract.rs` checks the document against the
//! running server). A route that forgets its body schema, or loses a common error status,
//! fails here first, with every problem listed.

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// Success bodies that are files, not the envelope: a client downloads them as they are.
const DOWNLOADS: &[(&str, &str)] = &[("post", "/api/v1/workflows/bulk/export")];

fn doc() -> Value {
    serde_json::to_value(betflow_api::openapi()).unwrap()
}

/// `(path, method, operation)` for every `/api/v1` operation.
fn api_operations(doc: &Value) -> Vec<(String, &'static str, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1") {
            continue;
        }
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((path.clone(), method, op.clone()));
            }
        }
    }
    out
}

fn is_error_envelope(response: &Value) -> bool {
    response["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/ErrorEnvelope"
}

#[test]
fn every_success_response_has_a_schema_and_json_ones_are_the_envelope() {
    let doc = doc();
    let mut problems = Vec::new();
    for (path, method, op) in api_operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let successes: Vec<_> = responses
            .iter()
            .filter(|(s, _)| s.starts_with('2'))
            .collect();
        if successes.is_empty() {
            problems.push(format!("{method} {path}: no success response"));
        }
        for (status, response) in successes {
            if status == "204" {
                continue;
            }
            let Some(content) = response["content"].as_object().filter(|c| !c.is_empty()) else {
                problems.push(format!("{method} {path} {status}: no body schema"));
                continue;
            };
            for (media, body) in content {
                let schema = &body["schema"];
                if schema.is_null() || schema.as_object().is_some_and(|o| o.is_empty()) {
                    problems.push(format!("{method} {path} {status} {media}: no schema"));
                }
                let download = DOWNLOADS.contains(&(method, path.as_str()));
                let envelope = schema["$ref"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("#/components/schemas/Envelope"));
                if media == "application/json" && !download && !envelope {
                    problems.push(format!(
                        "{method} {path} {status}: JSON body is not an Envelope<..>: {schema}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_operation_declares_its_error_statuses_with_the_error_envelope() {
    let doc = doc();
    let mut problems = Vec::new();
    for (path, method, op) in api_operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has_path_param = params.iter().any(|p| p["in"] == "path");
        let has_body = op.get("requestBody").is_some();
        let json_body = op["requestBody"]["content"]
            .as_object()
            .is_some_and(|c| c.keys().any(|k| k.contains("json")));
        let secured = op["security"].as_array().is_none_or(|reqs| {
            reqs.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        });
        let mut expected = vec!["429"];
        if !params.is_empty() || has_body {
            expected.push("400");
        }
        if secured {
            expected.extend(["401", "403"]);
        }
        if has_path_param {
            expected.push("404");
        }
        if json_body {
            expected.extend(["413", "415"]);
        }
        for status in expected {
            match responses.get(status) {
                None => problems.push(format!("{method} {path}: {status} undeclared")),
                Some(r) if !is_error_envelope(r) => {
                    problems.push(format!("{method} {path}: {status} without ErrorEnvelope"))
                }
                Some(_) => {}
            }
        }
        for (status, response) in responses {
            if (status.starts_with('4') || status.starts_with('5')) && !is_error_envelope(response)
            {
                problems.push(format!("{method} {path}: {status} without ErrorEnvelope"));
            }
            if response["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{method} {path}: {status} has no description"));
            }
            let headers = &response["headers"];
            if status.starts_with('2') || status == "429" {
                for h in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
                    if headers[h].is_null() {
                        problems.push(format!("{method} {path}: {status} lacks {h}"));
                    }
                }
            }
            if status == "429" && headers["Retry-After"].is_null() {
                problems.push(format!("{method} {path}: 429 lacks Retry-After"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn operation_ids_are_unique_and_tags_declared() {
    let doc = doc();
    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tag in [
        "wallet",
        "bets",
        "sportsbook",
        "users",
        "webhooks",
        "workflows",
    ] {
        assert!(declared.contains(&tag), "tag {tag} undeclared");
    }
    let mut ids = std::collections::BTreeSet::new();
    for (path, method, op) in api_operations(&doc) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{method} {path}: duplicate id {id}");
        for tag in op["tags"].as_array().unwrap() {
            let tag = tag.as_str().unwrap();
            assert!(
                declared.contains(&tag),
                "{method} {path}: tag {tag} undeclared"
            );
        }
    }
}

#[test]
fn paging_parameters_state_the_servers_bounds() {
    let doc = doc();
    let mut paged = 0;
    for (path, method, op) in api_operations(&doc) {
        for p in op["parameters"].as_array().cloned().unwrap_or_default() {
            let s = &p["schema"];
            match p["name"].as_str().unwrap() {
                "page" => {
                    paged += 1;
                    assert_eq!(s["minimum"], 1, "{method} {path}: page");
                    assert_eq!(s["maximum"], 4_294_967_295_u64, "{method} {path}: page");
                }
                "limit" => {
                    assert_eq!(s["minimum"], 1, "{method} {path}: limit");
                    assert_eq!(s["maximum"], 100, "{method} {path}: limit");
                }
                _ => {}
            }
        }
    }
    assert!(paged >= 10, "only {paged} paged lists");
}

#[test]
fn created_objects_link_to_their_reads_and_updates() {
    let doc = doc();
    let links = |path: &str| doc["paths"][path]["post"]["responses"]["201"]["links"].clone();
    let users = links("/api/v1/users");
    assert_eq!(
        users["users_get"]["parameters"]["id"],
        "$response.body#/data/id"
    );
    assert!(users["users_update"].is_object(), "{users}");
    let webhooks = links("/api/v1/webhooks");
    assert_eq!(
        webhooks["webhooks_delete"]["parameters"]["id"],
        "$response.body#/data/webhook/id"
    );
    let ping = &doc["paths"]["/api/v1/webhooks/{id}/test"]["post"]["responses"]["200"]["links"];
    assert_eq!(
        ping["webhooks_retry"]["parameters"]["deliveryId"],
        "$response.body#/data/id"
    );
}

#[test]
fn request_strings_state_the_character_rules_of_the_boundary() {
    let doc = doc();
    let login = &doc["components"]["schemas"]["LoginRequest"]["properties"];
    // A route's own pattern wins; a string without one gets the boundary's NUL rule.
    assert!(
        login["username"]["pattern"]
            .as_str()
            .unwrap()
            .contains("x1F")
    );
    assert_eq!(login["password"]["pattern"], r"^[^\x00]*$");
    let audit = &doc["paths"]["/api/v1/audit-logs"]["get"]["parameters"];
    let record = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "recordId")
        .unwrap();
    // A uuid has its own format: no pattern is added.
    assert!(record["schema"]["pattern"].is_null(), "{record}");
}
