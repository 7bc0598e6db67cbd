//! The limits of the request bodies as JSON Schema keywords in `/openapi.json`.
//!
//! paperclip derives the schemas from the DTOs' types and doc comments, which carry no lengths,
//! counts, enumerations or patterns. Generators such as schemathesis only produce valid
//! registrations when the document says what valid is, so [`annotate`] adds `maxLength`,
//! `maxItems`, `enum`, `pattern` and `format` to the members of the request schemas, from the
//! registration policy **of the running server** (the served document follows its configuration,
//! e.g. `limits.max_redirect_uris`). The keywords describe the shape only; the server still
//! applies every rule (a URI matching the pattern can be refused for its host).

use authz_domain::client_registration::RegistrationPolicy;
use authz_domain::users::{MAX_DISPLAY_NAME_CHARS, MAX_USERNAME_CHARS};
use serde_json::{json, Map, Value};

/// Request schemas that carry client metadata.
const METADATA_SCHEMAS: &[&str] = &[
    "ClientRegistrationRequest",
    "ClientUpdateRequest",
    "AdminClientRequest",
];

/// RFC 6749 §3.3 scope tokens (`%x21 / %x23-5B / %x5D-7E`) separated by single spaces, or empty.
const SCOPE_PATTERN: &str = r"^([!#-\[\]-~]+( [!#-\[\]-~]+)*)?$";

/// The forms a redirect URI takes: `https://` + host, loopback `http`, or a private-use scheme of
/// at least two characters followed by `:/`; no fragment, wildcard, backslash or space.
const REDIRECT_URI_PATTERN: &str = r"^(https://[A-Za-z0-9]|http://(localhost|127\.0\.0\.1|\[::1\])[:/]|http://(localhost|127\.0\.0\.1|\[::1\])$|[A-Za-z][A-Za-z0-9+.-]+:/)[^#*\\\s]*$";

/// `https` (or loopback `http`) web page URIs.
const WEB_URI_PATTERN: &str =
    r"^(https://[A-Za-z0-9]|http://(localhost|127\.0\.0\.1|\[::1\])([:/]|$))[^#*\\\s]*$";

/// The form bodies of the token endpoint, introspection and revocation, which paperclip's
/// OpenAPI 3 conversion leaves out; added only where the operation documents no body.
fn document_form_bodies(spec: &mut Value) {
    let token_string = json!({"type": "string", "maxLength": 512});
    let forms = [
        (
            "/token",
            json!({
                "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"]},
                "code": token_string,
                "redirect_uri": {"type": "string", "maxLength": 2000},
                "code_verifier": {"type": "string", "minLength": 43, "maxLength": 128, "pattern": "^[A-Za-z0-9._~-]+$"},
                "refresh_token": token_string,
                "client_id": {"type": "string", "maxLength": 128},
                "client_secret": token_string,
                "scope": {"type": "string", "pattern": SCOPE_PATTERN},
                "resource": {"type": "string", "maxLength": 2000},
            }),
            json!(["grant_type"]),
        ),
        (
            "/introspect",
            json!({
                "token": token_string,
                "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
                "client_id": {"type": "string", "maxLength": 128},
                "client_secret": token_string,
            }),
            json!(["token"]),
        ),
        (
            "/revoke",
            json!({
                "token": token_string,
                "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
                "client_id": {"type": "string", "maxLength": 128},
                "client_secret": token_string,
            }),
            json!(["token"]),
        ),
    ];
    for (path, properties, required) in forms {
        let pointer = format!("/paths/{}/post", path.replace('/', "~1"));
        let Some(Value::Object(operation)) = spec.pointer_mut(&pointer) else {
            continue;
        };
        operation.entry("requestBody").or_insert_with(|| {
            json!({
                "required": true,
                "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                }}},
            })
        });
    }
}

/// Adds the keywords to `spec` (an OpenAPI 3 document as JSON) for `policy`.
pub fn annotate(spec: &mut Value, policy: &RegistrationPolicy) {
    document_form_bodies(spec);
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let max_uri = policy.redirect_uris.max_uri_length;
    let uri_list = |pattern: &str| {
        json!({
            "maxItems": policy.redirect_uris.max_uris,
            "items": {"type": "string", "minLength": 1, "maxLength": max_uri, "pattern": pattern},
        })
    };
    let web_uri = json!({"maxLength": max_uri, "pattern": WEB_URI_PATTERN});
    let keywords = [
        ("redirect_uris", uri_list(REDIRECT_URI_PATTERN)),
        ("post_logout_redirect_uris", uri_list(REDIRECT_URI_PATTERN)),
        (
            "grant_types",
            json!({"maxItems": 16, "items": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"]}}),
        ),
        (
            "response_types",
            json!({"maxItems": 8, "items": {"type": "string", "enum": ["code"]}}),
        ),
        (
            "token_endpoint_auth_method",
            json!({"enum": ["none", "client_secret_basic", "client_secret_post"]}),
        ),
        ("code_challenge_method", json!({"enum": ["S256"]})),
        ("application_type", json!({"enum": ["web", "native"]})),
        (
            "client_name",
            json!({"maxLength": policy.max_client_name_chars}),
        ),
        ("software_id", json!({"maxLength": policy.max_text_chars})),
        (
            "software_version",
            json!({"maxLength": policy.max_text_chars}),
        ),
        (
            "scope",
            json!({"maxLength": 4096, "pattern": SCOPE_PATTERN}),
        ),
        (
            "contacts",
            json!({"maxItems": policy.max_contacts, "items": {"type": "string", "format": "email", "maxLength": 254}}),
        ),
        ("client_uri", web_uri.clone()),
        ("logo_uri", web_uri.clone()),
        ("tos_uri", web_uri.clone()),
        ("policy_uri", web_uri),
        (
            "jwks_uri",
            json!({"maxLength": max_uri, "pattern": r"^https://[A-Za-z0-9][^#*\\\s]*$"}),
        ),
        (
            "client_id",
            json!({"minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9._~-]+$"}),
        ),
    ];
    for name in METADATA_SCHEMAS {
        let Some(properties) = schemas
            .get_mut(*name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (member, extra) in &keywords {
            if let Some(Value::Object(property)) = properties.get_mut(*member) {
                merge(property, extra);
            }
        }
    }
    // A valid registration (what Claude Code sends), for generators' example phase.
    if let Some(Value::Object(schema)) = schemas.get_mut("ClientRegistrationRequest") {
        schema.insert(
            "example".into(),
            json!({
                "client_name": "Claude Code",
                "redirect_uris": ["http://localhost:53682/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
        );
    }
    if let Some(Value::Object(properties)) = schemas
        .get_mut("UserCreateRequest")
        .and_then(|s| s.get_mut("properties"))
    {
        for (member, extra) in [
            (
                "username",
                json!({"minLength": 1, "maxLength": MAX_USERNAME_CHARS}),
            ),
            ("display_name", json!({"maxLength": MAX_DISPLAY_NAME_CHARS})),
        ] {
            if let Some(Value::Object(property)) = properties.get_mut(member) {
                merge(property, &extra);
            }
        }
    }
}

/// Adds `extra`'s keywords to `property`; nested `items` objects are merged, not replaced.
fn merge(property: &mut Map<String, Value>, extra: &Value) {
    let Value::Object(extra) = extra else { return };
    for (key, value) in extra {
        match (property.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(_)) => merge(existing, value),
            _ => {
                property.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_of_the_policy_become_schema_keywords() {
        let mut spec = json!({"components": {"schemas": {"ClientRegistrationRequest": {"properties": {
            "redirect_uris": {"type": "array", "items": {"type": "string"}, "description": "d"},
            "client_name": {"type": "string"},
            "token_endpoint_auth_method": {"type": "string"},
        }}}}});
        let mut policy = RegistrationPolicy::default();
        policy.redirect_uris.max_uris = 7;
        annotate(&mut spec, &policy);
        let p = &spec["components"]["schemas"]["ClientRegistrationRequest"]["properties"];
        assert_eq!(p["redirect_uris"]["maxItems"], 7);
        assert_eq!(p["redirect_uris"]["items"]["maxLength"], 2000);
        assert_eq!(p["redirect_uris"]["description"], "d");
        assert_eq!(p["client_name"]["maxLength"], 200);
        assert_eq!(
            p["token_endpoint_auth_method"]["enum"][0],
            Value::from("none")
        );
    }
}
