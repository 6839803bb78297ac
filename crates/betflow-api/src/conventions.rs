//! The document-wide OpenAPI conventions applied by [`crate::ApiConventions`].

use std::collections::{BTreeMap, BTreeSet};

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

const API_PREFIX: &str = "/api/v1";

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("patch", &mut item.patch),
        ("delete", &mut item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
}

fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("get", &item.get),
        ("put", &item.put),
        ("post", &item.post),
        ("patch", &item.patch),
        ("delete", &item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .build(),
        )
        .build()
}

fn integer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        ))
        .description(Some(description))
        .build()
}

fn rate_limit_headers(mut response: Response) -> Response {
    response.headers.insert(
        "RateLimit-Limit".into(),
        RefOr::T(integer_header("Requests allowed in the current window")),
    );
    response.headers.insert(
        "RateLimit-Remaining".into(),
        RefOr::T(integer_header("Requests left in the current window")),
    );
    response.headers.insert(
        "RateLimit-Reset".into(),
        RefOr::T(integer_header("Seconds until the window resets")),
    );
    response
}

/// The description of a status a route declared without one (OpenAPI requires one).
fn default_description(status: &str) -> Option<&'static str> {
    Some(match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted: taken, and done later",
        "204" => "No content",
        "400" => "VALIDATION_ERROR: a parameter or the body is malformed or breaks a rule",
        "401" => "UNAUTHORIZED: no valid credential",
        "403" => "FORBIDDEN: the credential may not do this",
        "404" => "NOT_FOUND: no such object",
        "409" => "CONFLICT: the object's state does not allow this",
        "413" => "PAYLOAD_TOO_LARGE: the body exceeds the configured limit",
        "415" => "UNSUPPORTED_MEDIA_TYPE: the body is not `application/json`",
        "422" => "The request is well-formed but cannot be carried out",
        "429" => "RATE_LIMITED: too many requests",
        "503" => "SERVICE_UNAVAILABLE: a dependency is down",
        _ => return None,
    })
}

fn add(op: &mut Operation, status: &str, response: Response) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert(RefOr::T(response));
}

/// Secured unless the operation overrides the document's default with `security: [{}]`.
fn secured(op: &Operation) -> bool {
    match &op.security {
        None => true,
        Some(reqs) => reqs.iter().any(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        }),
    }
}

fn takes_json(op: &Operation) -> bool {
    match &op.request_body {
        Some(RefOr::T(body)) => body.content.keys().any(|k| k.contains("json")),
        Some(RefOr::Ref(_)) => true,
        None => false,
    }
}

fn declare_errors(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Path,
        RefOr::Ref(_) => false,
    });
    let has_input = !params.is_empty() || op.request_body.is_some();
    if has_input {
        add(
            op,
            "400",
            error_response(
                "VALIDATION_ERROR: a parameter or the body is malformed or breaks a rule",
            ),
        );
    }
    if secured(op) {
        let mut unauthorized = error_response(
            "UNAUTHORIZED, INVALID_TOKEN, INVALID_API_KEY or INVALID_AUTHORIZATION: no \
             valid credential",
        );
        unauthorized.headers.insert(
            "WWW-Authenticate".into(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some("The accepted schemes: `Bearer, ApiKey`"))
                    .build(),
            ),
        );
        add(op, "401", unauthorized);
        add(
            op,
            "403",
            error_response(
                "INSUFFICIENT_PERMISSIONS or INSUFFICIENT_PRIVILEGES: the credential \
                 lacks a permission or role this operation needs",
            ),
        );
    }
    if has_path {
        add(op, "404", error_response("NOT_FOUND: no such object"));
    }
    if takes_json(op) {
        add(
            op,
            "413",
            error_response("PAYLOAD_TOO_LARGE: the body exceeds the configured limit"),
        );
        add(
            op,
            "415",
            error_response("UNSUPPORTED_MEDIA_TYPE: the body is not `application/json`"),
        );
    }
    let mut limited = rate_limit_headers(error_response(
        "RATE_LIMITED: too many requests; retry after `Retry-After` seconds",
    ));
    limited.headers.insert(
        "Retry-After".into(),
        RefOr::T(integer_header("Seconds to wait before retrying")),
    );
    add(op, "429", limited);
    // Also on statuses a route declared itself: the headers are the limiter's, whatever the
    // route says, and every error answer is the error envelope.
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with('2') || status == "429" {
            *response = rate_limit_headers(std::mem::take(response));
        }
        if status == "429" {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| RefOr::T(integer_header("Seconds to wait before retrying")));
        }
        if (status.starts_with('4') || status.starts_with('5')) && response.content.is_empty() {
            response.content = error_response("").content;
        }
    }
}

fn fill_descriptions(op: &mut Operation) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let (RefOr::T(response), Some(default)) = (response, default_description(status))
            && response.description.is_empty()
        {
            response.description = default.to_owned();
        }
    }
}

fn unique_operation_id(op: &mut Operation) {
    let tag = op
        .tags
        .as_ref()
        .and_then(|t| t.first())
        .map(|t| t.replace('-', "_"));
    if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut())
        && !id.starts_with(&format!("{tag}_"))
    {
        *id = format!("{tag}_{id}");
    }
}

fn resolve<'a>(doc: &'a OpenApi, schema: &'a RefOr<Schema>) -> Option<&'a Schema> {
    match schema {
        RefOr::T(s) => Some(s),
        RefOr::Ref(r) => {
            let name = r.ref_location.strip_prefix("#/components/schemas/")?;
            let found = doc.components.as_ref()?.schemas.get(name)?;
            resolve(doc, found)
        }
    }
}

fn properties<'a>(
    doc: &'a OpenApi,
    schema: &'a RefOr<Schema>,
) -> Option<&'a BTreeMap<String, RefOr<Schema>>> {
    match resolve(doc, schema)? {
        Schema::Object(o) => Some(&o.properties),
        _ => None,
    }
}

/// Where the created object's id is in a create operation's 201 body: `/data/id`, or
/// `/data/<field>/id` when the payload wraps the object next to, say, a one-time secret.
fn id_pointer(doc: &OpenApi, op: &Operation) -> Option<String> {
    let RefOr::T(created) = op.responses.responses.get("201")? else {
        return None;
    };
    let RefOr::T(content) = created.content.get("application/json")? else {
        return None;
    };
    let body = content.schema.as_ref()?;
    let data = properties(doc, body)?.get("data")?;
    let data_props = properties(doc, data)?;
    if data_props.contains_key("id") {
        return Some("/data/id".to_owned());
    }
    data_props.iter().find_map(|(name, field)| {
        properties(doc, field)?
            .contains_key("id")
            .then(|| format!("/data/{name}/id"))
    })
}

/// The name of the path parameter right after `collection` in `path`, when `path` is
/// `{collection}/{param}` or a sub-path of it with no other parameter.
fn object_param<'p>(collection: &str, path: &'p str) -> Option<&'p str> {
    let rest = path.strip_prefix(collection)?.strip_prefix("/{")?;
    let (param, tail) = rest.split_once('}')?;
    (!tail.contains('{') && (tail.is_empty() || tail.starts_with('/'))).then_some(param)
}

fn add_links(doc: &mut OpenApi, created_under: &[(&str, &str)]) {
    let mut links = Vec::new();
    for (path, item) in &doc.paths.paths {
        let Some(create) = &item.post else { continue };
        let Some(pointer) = id_pointer(doc, create) else {
            continue;
        };
        let collection = created_under
            .iter()
            .find(|(p, _)| p == path)
            .map_or(path.as_str(), |(_, c)| c);
        for (target_path, target) in &doc.paths.paths {
            let Some(param) = object_param(collection, target_path) else {
                continue;
            };
            for (_, op) in operations(target) {
                if let Some(id) = &op.operation_id {
                    links.push((path.clone(), id.clone(), param.to_owned(), pointer.clone()));
                }
            }
        }
    }
    for (path, target, param, pointer) in links {
        let Some(RefOr::T(created)) = doc
            .paths
            .paths
            .get_mut(&path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.responses.responses.get_mut("201"))
        else {
            continue;
        };
        let link = LinkBuilder::new()
            .operation_id(&target)
            .parameter(param, format!("$response.body#{pointer}"))
            .description(format!("`{target}` on the created object"))
            .build();
        created.links.entry(target).or_insert(RefOr::T(link));
    }
}

/// What [`crate::extract`] refuses in every request, as a pattern for strings whose schema
/// states nothing stricter: no NUL in any JSON string of a body...
const NO_NUL: &str = r"^[^\x00]*$";
/// ...and no control character in any query or path parameter.
const NO_CONTROL: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

/// A string schema with no rule of its own about its characters (no pattern, enum or format).
fn unconstrained_string(o: &Object) -> bool {
    let string = match &o.schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    };
    string && o.pattern.is_none() && o.enum_values.is_none() && o.format.is_none()
}

/// Every schema directly inside `schema` (properties, items, map values, composites).
fn children(schema: &Schema) -> Vec<&RefOr<Schema>> {
    match schema {
        Schema::Object(o) => {
            let mut out: Vec<&RefOr<Schema>> = o.properties.values().collect();
            if let Some(extra) = o.additional_properties.as_deref()
                && let AdditionalProperties::RefOr(r) = extra
            {
                out.push(r);
            }
            out
        }
        Schema::Array(a) => match &a.items {
            ArrayItems::RefOrSchema(r) => vec![r.as_ref()],
            _ => vec![],
        },
        Schema::OneOf(c) => c.items.iter().collect(),
        Schema::AllOf(c) => c.items.iter().collect(),
        Schema::AnyOf(c) => c.items.iter().collect(),
        _ => vec![],
    }
}

fn children_mut(schema: &mut Schema) -> Vec<&mut RefOr<Schema>> {
    match schema {
        Schema::Object(o) => {
            let mut out: Vec<&mut RefOr<Schema>> = o.properties.values_mut().collect();
            if let Some(extra) = o.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(r) = extra
            {
                out.push(r);
            }
            out
        }
        Schema::Array(a) => match &mut a.items {
            ArrayItems::RefOrSchema(r) => vec![r.as_mut()],
            _ => vec![],
        },
        Schema::OneOf(c) => c.items.iter_mut().collect(),
        Schema::AllOf(c) => c.items.iter_mut().collect(),
        Schema::AnyOf(c) => c.items.iter_mut().collect(),
        _ => vec![],
    }
}

/// The component names `schema` refers to, at any depth.
fn referenced(doc: &OpenApi, schema: &RefOr<Schema>, seen: &mut BTreeSet<String>) {
    match schema {
        RefOr::Ref(r) => {
            if let Some(name) = r.ref_location.strip_prefix("#/components/schemas/")
                && seen.insert(name.to_owned())
                && let Some(found) = doc.components.as_ref().and_then(|c| c.schemas.get(name))
            {
                referenced(doc, found, seen);
            }
        }
        RefOr::T(s) => {
            for child in children(s) {
                referenced(doc, child, seen);
            }
        }
    }
}

/// Gives every unconstrained string inside `schema` (not through references) `pattern`.
fn constrain_strings(schema: &mut RefOr<Schema>, pattern: &str) {
    let RefOr::T(schema) = schema else { return };
    if let Schema::Object(o) = schema
        && unconstrained_string(o)
    {
        o.pattern = Some(pattern.to_owned());
    }
    for child in children_mut(schema) {
        constrain_strings(child, pattern);
    }
}

/// States [`crate::extract`]'s character rules in the document: a body string with no
/// pattern of its own may not hold NUL, a query or path parameter no control character. A
/// route states stricter rules (names, free text) with its own pattern, which is kept.
fn declare_character_rules(doc: &mut OpenApi) {
    let mut in_bodies = BTreeSet::new();
    for item in doc.paths.paths.values() {
        for (_, op) in operations(item) {
            if let Some(RefOr::T(body)) = &op.request_body {
                for content in body.content.values() {
                    if let RefOr::T(c) = content
                        && let Some(schema) = &c.schema
                    {
                        referenced(doc, schema, &mut in_bodies);
                    }
                }
            }
        }
    }
    if let Some(components) = doc.components.as_mut() {
        for name in &in_bodies {
            if let Some(schema) = components.schemas.get_mut(name) {
                constrain_strings(schema, NO_NUL);
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with(API_PREFIX) {
            continue;
        }
        for (_, op) in operations_mut(item) {
            if let Some(RefOr::T(body)) = &mut op.request_body {
                for content in body.content.values_mut() {
                    if let RefOr::T(c) = content
                        && let Some(schema) = &mut c.schema
                    {
                        constrain_strings(schema, NO_NUL);
                    }
                }
            }
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = param
                    && matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path)
                    && let Some(schema) = &mut p.schema
                {
                    constrain_strings(schema, NO_CONTROL);
                }
            }
        }
    }
}

/// Adds [`crate::LINKS`]-style links: from `(path, method, status)`'s answer, the value at
/// `pointer`, to every operation on `target` (as its one path parameter).
fn add_explicit_links(doc: &mut OpenApi, links: &[(&str, &str, &str, &str, &str)]) {
    for (path, method, status, pointer, target) in links {
        let Some(param) = target
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(name, _)| name.to_owned())
        else {
            continue;
        };
        let ids: Vec<String> = doc
            .paths
            .paths
            .get(*target)
            .map(|item| {
                operations(item)
                    .filter_map(|(_, op)| op.operation_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let Some(item) = doc.paths.paths.get_mut(*path) else {
            continue;
        };
        let Some((_, op)) = operations_mut(item).find(|(m, _)| m == method) else {
            continue;
        };
        let Some(RefOr::T(answer)) = op.responses.responses.get_mut(*status) else {
            continue;
        };
        for id in ids {
            let link = LinkBuilder::new()
                .operation_id(&id)
                .parameter(&param, format!("$response.body#{pointer}"))
                .description(format!("`{id}` on the object this answer names"))
                .build();
            answer.links.entry(id).or_insert(RefOr::T(link));
        }
    }
}

pub(crate) fn apply(
    doc: &mut OpenApi,
    created_under: &[(&str, &str)],
    links: &[(&str, &str, &str, &str, &str)],
) {
    declare_character_rules(doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let api = path.starts_with(API_PREFIX);
        for (_, op) in operations_mut(item) {
            if api {
                unique_operation_id(op);
                declare_errors(op);
            }
            fill_descriptions(op);
        }
    }
    add_links(doc, created_under);
    add_explicit_links(doc, links);
}
