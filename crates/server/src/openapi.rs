//! The OpenAPI 3.1 document of `/api/v1`, generated from the route table
//! ([`crate::api::ROUTES`]) the router is built from, so every served
//! route is in it and nothing else is.

use serde_json::{Map, Value, json};

use crate::api::{ApiRoute, ROUTES};

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths.entry(route.path).or_insert_with(|| json!({}));
        item[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mailwarden API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The scans, history, baselines, alerts and audit log of one tenant. \
                            Authenticate with `Authorization: Bearer <token>` (`mailwarden token create`). \
                            Another tenant's objects answer 404, like missing ones. Errors are RFC 9457 \
                            problem details."
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"}
                }
            }}
        }
    })
}

fn operation(route: &ApiRoute) -> Value {
    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(route.query.iter().map(|(name, ty, description)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": ty}})
    }));
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let ok = if route.method == "post" { "201" } else { "200" };
    let mut op = json!({
        "operationId": operation_id(route),
        "summary": route.summary,
        "description": format!("Roles: {}.", route.roles),
        "parameters": parameters,
        "responses": {
            ok: {"description": "Success", "content": {media_type(route.path): {"schema": success_schema(route.path)}}},
            "400": {"description": "Bad request", "content": problem},
            "401": {"description": "No or bad credentials", "content": problem},
            "403": {"description": "The caller's role may not do this", "content": problem},
            "404": {"description": "No such object (or another tenant's)", "content": problem}
        }
    });
    if let Some(body) = route.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body()}}});
    }
    op
}

/// The media type of a route's success answer: the scan reports' own
/// (`report.html`, `report.sarif`), JSON for every other route.
pub fn media_type(path: &str) -> &'static str {
    if path.ends_with(".html") {
        "text/html"
    } else if path.ends_with(".sarif") {
        "application/sarif+json"
    } else {
        "application/json"
    }
}

fn success_schema(path: &str) -> Value {
    if path.ends_with(".html") {
        json!({"type": "string"})
    } else {
        json!({"type": "object"})
    }
}

/// The `{name}` parameters of a path.
pub fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation_id(route: &ApiRoute) -> String {
    let words: Vec<String> = route
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('{')
                .map_or_else(|| s.to_owned(), |p| format!("by_{}", p.trim_end_matches('}')))
        })
        .collect();
    format!("{}_{}", route.method, words.join("_").replace('.', "_"))
}
