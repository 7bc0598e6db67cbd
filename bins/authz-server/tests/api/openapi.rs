//! The OpenAPI document generated from the code.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn openapi_describes_every_route_with_documented_fields_and_errors() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let res = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let spec: Value = res.json().await.expect("json");
    assert!(spec["openapi"].as_str().expect("version").starts_with("3."));
    let register = &spec["paths"]["/register"]["post"];
    assert_eq!(register["operationId"], "registerClient");
    for status in ["201", "400", "413", "500", "503"] {
        assert!(
            register["responses"].get(status).is_some(),
            "POST /register documents {status}"
        );
    }
    assert!(
        register["requestBody"].is_object(),
        "the request body is documented"
    );
    assert!(spec["paths"]["/.well-known/oauth-authorization-server"]["get"].is_object());
    assert!(spec["paths"]["/health"]["get"].is_object());
    let manage = &spec["paths"]["/register/{client_id}"];
    for (method, id) in [
        ("get", "readClient"),
        ("put", "updateClient"),
        ("delete", "deleteClient"),
    ] {
        assert_eq!(manage[method]["operationId"], id);
        for status in ["401", "403"] {
            assert!(
                manage[method]["responses"].get(status).is_some(),
                "{method} documents {status}"
            );
        }
        assert!(
            manage[method]["security"].is_array(),
            "{method} names its bearer token"
        );
    }
    assert!(manage["put"]["requestBody"].is_object());
    assert!(spec["components"]["securitySchemes"]["registrationAccessToken"].is_object());

    let schemas = &spec["components"]["schemas"];
    let request = &schemas["ClientRegistrationRequest"]["properties"];
    let rule = request["redirect_uris"]["description"]
        .as_str()
        .expect("field rule");
    assert!(
        rule.contains("localhost") && rule.contains("private-use"),
        "{rule}"
    );
    assert!(request["token_endpoint_auth_method"]["description"]
        .as_str()
        .expect("rule")
        .contains("client_secret_basic"));
    let response = &schemas["ClientInformationResponse"]["properties"];
    assert!(response["client_secret"]["description"]
        .as_str()
        .expect("rule")
        .contains("Argon2id"));
    assert!(schemas["ErrorBody"]["properties"]["error"].is_object());
}

#[tokio::test]
async fn the_document_carries_the_running_limits_as_schema_keywords_and_optional_bodies_are_optional(
) {
    let app = crate::helpers::spawn_app_with(
        authz_storage::Backend::Sqlite,
        &[
            ("limits.max_redirect_uris", "5"),
            ("limits.max_client_name_chars", "80"),
        ],
    )
    .await;
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    for schema in [
        "ClientRegistrationRequest",
        "ClientUpdateRequest",
        "AdminClientRequest",
    ] {
        let p = &spec["components"]["schemas"][schema]["properties"];
        assert_eq!(p["redirect_uris"]["maxItems"], 5, "{schema}");
        assert_eq!(p["redirect_uris"]["items"]["maxLength"], 2000, "{schema}");
        assert!(
            p["redirect_uris"]["items"]["pattern"].is_string(),
            "{schema}"
        );
        assert_eq!(p["client_name"]["maxLength"], 80, "{schema}");
        assert_eq!(p["contacts"]["items"]["format"], "email", "{schema}");
        assert_eq!(
            p["response_types"]["items"]["enum"],
            serde_json::json!(["code"])
        );
        assert!(p["scope"]["pattern"].is_string(), "{schema}");
    }
    // The example is a registration the server accepts.
    let example = &spec["components"]["schemas"]["ClientRegistrationRequest"]["example"];
    assert_eq!(app.register(example).await.status().as_u16(), 201);
    // The secret rotation body may be left out; the registration body may not.
    let rotate = &spec["paths"]["/admin/clients/{client_id}/secret"]["post"]["requestBody"];
    assert_ne!(rotate["required"], true, "{rotate}");
    assert_eq!(
        spec["paths"]["/register"]["post"]["requestBody"]["required"],
        true
    );
    // The form endpoints document their bodies.
    for path in ["/token", "/introspect", "/revoke"] {
        let form = &spec["paths"][path]["post"]["requestBody"]["content"]
            ["application/x-www-form-urlencoded"]["schema"];
        assert!(form["properties"].is_object(), "{path}: {form}");
    }
}
