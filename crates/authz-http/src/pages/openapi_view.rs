//! The view model of `/docs/openapi`: the OpenAPI 3 document (as JSON) flattened into what the
//! `openapi.html` template lists: operations by tag with their parameters, request body and
//! responses, then the schemas. Descriptions are Markdown, rendered like the guides.

use serde::Serialize;
use serde_json::Value;

use super::docs::render_markdown;
use super::templates::{NavLink, Site};

/// The OpenAPI page.
#[derive(Debug, Serialize)]
pub(crate) struct OpenApiPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub title: String,
    pub version: String,
    /// HTML (rendered Markdown).
    pub description: String,
    pub operations: Vec<OperationView>,
    pub schemas: Vec<SchemaView>,
    pub nav: Vec<NavLink>,
}

/// One method on one path.
#[derive(Debug, Serialize)]
pub(crate) struct OperationView {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    /// HTML.
    pub description: String,
    pub parameters: Vec<FieldView>,
    /// `Schema (application/json)`, when there is a body.
    pub request_body: Option<TypeView>,
    pub responses: Vec<ResponseView>,
}

/// A parameter or a schema property.
#[derive(Debug, Serialize)]
pub(crate) struct FieldView {
    pub name: String,
    /// `query`, `path`, `header` (parameters only).
    pub location: String,
    pub required: bool,
    pub kind: TypeView,
    /// HTML.
    pub description: String,
}

/// A type, linked to its schema when it names one.
#[derive(Debug, Serialize)]
pub(crate) struct TypeView {
    pub text: String,
    /// `#schema-Name` when the type is (an array of) a named schema.
    pub link: Option<String>,
}

/// One response.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseView {
    pub status: String,
    /// HTML.
    pub description: String,
    pub kind: Option<TypeView>,
}

/// One named schema.
#[derive(Debug, Serialize)]
pub(crate) struct SchemaView {
    pub name: String,
    pub anchor: String,
    /// HTML.
    pub description: String,
    pub properties: Vec<FieldView>,
}

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

impl<'a> OpenApiPage<'a> {
    /// The view of `doc`, an OpenAPI 3 document.
    pub(crate) fn from_document(site: &'a Site, doc: &Value, nav: Vec<NavLink>) -> Self {
        let mut operations = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for method in METHODS {
                    let op = &item[*method];
                    if op.is_object() {
                        operations.push(operation(path, method, op));
                    }
                }
            }
        }
        // By tag in the document's order, then by path.
        let tag_order: Vec<&str> = doc["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        operations.sort_by_key(|o| {
            (
                tag_order
                    .iter()
                    .position(|t| *t == o.tag)
                    .unwrap_or(usize::MAX),
                o.path.clone(),
            )
        });
        let schemas = doc["components"]["schemas"]
            .as_object()
            .map(|schemas| {
                schemas
                    .iter()
                    .map(|(name, schema)| SchemaView {
                        name: name.clone(),
                        anchor: format!("schema-{name}"),
                        description: markdown(&schema["description"]),
                        properties: properties(schema),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            site,
            title: doc["info"]["title"].as_str().unwrap_or("API").to_owned(),
            version: doc["info"]["version"].as_str().unwrap_or("").to_owned(),
            description: markdown(&doc["info"]["description"]),
            operations,
            schemas,
            nav,
        }
    }
}

fn operation(path: &str, method: &str, op: &Value) -> OperationView {
    let parameters = op["parameters"]
        .as_array()
        .map(|params| {
            params
                .iter()
                .map(|p| FieldView {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    kind: type_of(&p["schema"]),
                    description: markdown(&p["description"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let request_body = first_content(&op["requestBody"]).map(|(media, schema)| {
        let mut kind = type_of(schema);
        kind.text = format!("{} ({media})", kind.text);
        kind
    });
    let responses = op["responses"]
        .as_object()
        .map(|responses| {
            responses
                .iter()
                .map(|(status, r)| ResponseView {
                    status: status.clone(),
                    description: markdown(&r["description"]),
                    kind: first_content(r).map(|(_, schema)| type_of(schema)),
                })
                .collect()
        })
        .unwrap_or_default();
    let id = op["operationId"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{method}-{path}"));
    OperationView {
        anchor: format!(
            "op-{}",
            id.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        ),
        method: method.to_uppercase(),
        path: path.to_owned(),
        tag: op["tags"][0].as_str().unwrap_or("").to_owned(),
        summary: text(&op["summary"]),
        description: markdown(&op["description"]),
        parameters,
        request_body,
        responses,
    }
}

fn first_content(v: &Value) -> Option<(String, &Value)> {
    v["content"]
        .as_object()?
        .iter()
        .next()
        .map(|(media, c)| (media.clone(), &c["schema"]))
}

fn properties(schema: &Value) -> Vec<FieldView> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| FieldView {
                    name: name.clone(),
                    location: String::new(),
                    required: required.contains(&name.as_str()),
                    kind: type_of(p),
                    description: markdown(&p["description"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `string`, `integer (int64)`, `array of Name`, `one of "a", "b"`, or a schema's name.
fn type_of(schema: &Value) -> TypeView {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        return TypeView {
            link: Some(format!("#schema-{name}")),
            text: name,
        };
    }
    if schema["type"] == "array" {
        let inner = type_of(&schema["items"]);
        return TypeView {
            text: format!("array of {}", inner.text),
            link: inner.link,
        };
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        return TypeView {
            text: format!("one of {}", values.join(", ")),
            link: None,
        };
    }
    let base = match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some(t), Some(f)) => format!("{t} ({f})"),
        (Some(t), None) => t.to_owned(),
        (None, _) if schema["properties"].is_object() => "object".into(),
        (None, _) => "any".into(),
    };
    TypeView {
        text: base,
        link: None,
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_owned()
}

/// A description's HTML; descriptions are Markdown (backticks around names).
fn markdown(v: &Value) -> String {
    match v.as_str() {
        // Paperclip keeps the doc comments' line breaks and leading spaces.
        Some(s) if !s.is_empty() => {
            let joined: Vec<&str> = s.lines().map(str::trim).collect();
            render_markdown(&joined.join("\n"), "")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parameters_bodies_and_schemas_are_listed() {
        let site = Site {
            product_name: "P".into(),
            logo_url: None,
            stylesheet: "s".into(),
        };
        let doc = serde_json::json!({
            "info": {"title": "authz", "version": "1", "description": "The `API`."},
            "tags": [{"name": "B"}, {"name": "A"}],
            "paths": {
                "/a": {"get": {"tags": ["A"], "operationId": "getA", "summary": "Get",
                    "parameters": [{"name": "page", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}},
                "/b": {"post": {"tags": ["B"], "summary": "Post <b>",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}},
                    "responses": {"400": {"description": "Bad <script>"}}}}
            },
            "components": {"schemas": {"Thing": {"type": "object", "required": ["id"],
                "properties": {"id": {"type": "string", "description": "The `id`."}, "n": {"type": "integer", "format": "int64"}}}}}
        });
        let page = OpenApiPage::from_document(&site, &doc, Vec::new());
        assert_eq!(page.operations.len(), 2);
        assert_eq!(page.operations[0].path, "/b", "tag B comes first");
        assert_eq!(page.operations[0].method, "POST");
        let body = page.operations[0].request_body.as_ref().expect("body");
        assert_eq!(body.text, "array of Thing (application/json)");
        assert_eq!(body.link.as_deref(), Some("#schema-Thing"));
        assert!(!page.operations[0].responses[0]
            .description
            .contains("<script>"));
        assert_eq!(page.operations[1].anchor, "op-getA");
        assert_eq!(page.operations[1].parameters[0].location, "query");
        assert_eq!(page.schemas[0].properties[0].name, "id");
        assert!(page.schemas[0].properties[0].required);
        assert_eq!(page.schemas[0].properties[1].kind.text, "integer (int64)");
        assert!(page.description.contains("<code>API</code>"));
    }
}
