//! Safe substitution (RFC 7591 §3.2.1, registration contract §1): every example of issue 9 part 1,
//! its strict twin (`substitution = false` refuses), and the cases that stay refused.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{json, Map, Value};

use crate::client_registration::*;
use crate::clock::ManualClock;

const NOW: i64 = 1_750_000_000;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn parse_with(v: Value, policy: &RegistrationPolicy) -> Result<ParsedMetadata, RegistrationError> {
    ClientMetadata::parse_request_at(&obj(v), policy, NOW)
}

fn substituted(v: Value, policy: &RegistrationPolicy) -> ParsedMetadata {
    let parsed = parse_with(v.clone(), policy).expect("registered with substitution");
    assert!(
        !parsed.substitutions.is_empty(),
        "a substitution is recorded: {v}"
    );
    let strict = RegistrationPolicy {
        substitution: false,
        ..policy.clone()
    };
    let err = parse_with(v.clone(), &strict).expect_err("refused without substitution");
    assert_eq!(err.code(), ErrorCode::InvalidClientMetadata, "{v}: {err}");
    parsed
}

fn refused_either_way(v: Value, policy: &RegistrationPolicy) -> String {
    let err = parse_with(v.clone(), policy).expect_err("refused even with substitution");
    assert_eq!(err.code(), ErrorCode::InvalidClientMetadata, "{v}: {err}");
    let strict = RegistrationPolicy {
        substitution: false,
        ..policy.clone()
    };
    let strict_err = parse_with(v, &strict).expect_err("refused");
    assert_eq!(err.to_string(), strict_err.to_string());
    err.to_string()
}

fn public(grants: Value) -> Value {
    json!({"client_name": "Swift client", "redirect_uris": ["http://127.0.0.1:8765/callback"],
        "token_endpoint_auth_method": "none", "grant_types": grants})
}

fn grants(m: &ParsedMetadata) -> Vec<&'static str> {
    m.metadata.grant_types.iter().map(|g| g.as_str()).collect()
}

#[test]
fn swift_sdk_authorization_code_only_gets_the_refresh_token_grant_too() {
    let m = substituted(
        public(json!(["authorization_code"])),
        &RegistrationPolicy::default(),
    );
    assert_eq!(grants(&m), ["authorization_code", "refresh_token"]);
    assert_eq!(
        m.metadata.to_wire()["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        m.substitutions[0].to_string(),
        "grant_types: added \"refresh_token\" (MCP authorization profile)"
    );
}

#[test]
fn an_unsupported_extra_grant_is_dropped_and_the_rest_registered() {
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    let m = substituted(
        public(json!(["authorization_code", device, "refresh_token"])),
        &RegistrationPolicy::default(),
    );
    assert_eq!(grants(&m), ["authorization_code", "refresh_token"]);
    assert!(
        m.substitutions[0].change.contains(device),
        "{:?}",
        m.substitutions
    );
    // Extra and missing at once (device code beside authorization_code only).
    let m = substituted(
        public(json!([device, "authorization_code"])),
        &RegistrationPolicy::default(),
    );
    assert_eq!(grants(&m), ["authorization_code", "refresh_token"]);
    assert_eq!(m.substitutions.len(), 2);
    // Other unknown grants are the same kind of fault.
    for extra in [
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "client_credentials",
    ] {
        let m = substituted(
            public(json!(["authorization_code", "refresh_token", extra])),
            &RegistrationPolicy::default(),
        );
        assert_eq!(
            grants(&m),
            ["authorization_code", "refresh_token"],
            "{extra}"
        );
    }
}

#[test]
fn vscode_without_grant_filtering_registers_without_the_device_code_grant() {
    let payload: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/vscode_unfiltered.json"))
            .expect("fixture");
    let m = substituted(payload, &RegistrationPolicy::default());
    assert_eq!(grants(&m), ["authorization_code", "refresh_token"]);
    assert!(m.substitutions[0]
        .change
        .starts_with("dropped grant_types[2]"));
}

#[test]
fn only_unsupported_or_unsafe_grant_sets_stay_refused() {
    let policy = RegistrationPolicy::default();
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    let msg = refused_either_way(public(json!([device])), &policy);
    assert!(
        msg.starts_with("grant_types[0]: ") && msg.contains(device),
        "{msg}"
    );
    for unsafe_grant in ["implicit", "password"] {
        let msg = refused_either_way(
            public(json!(["authorization_code", "refresh_token", unsafe_grant])),
            &policy,
        );
        assert!(msg.contains("never allowed"), "{msg}");
        refused_either_way(public(json!([unsafe_grant])), &policy);
    }
    assert!(refused_either_way(public(json!([])), &policy).contains("must not be empty"));
    // client_credentials alone on a public client: no intent survives without a secret.
    let mut cc = policy.clone();
    cc.mcp_profile = false;
    cc.allowed_grant_types.push(GrantType::ClientCredentials);
    let msg = refused_either_way(public(json!(["client_credentials"])), &cc);
    assert!(msg.contains("confidential"), "{msg}");
}

#[test]
fn unknown_scope_tokens_are_dropped_and_the_rest_registered() {
    let policy = RegistrationPolicy {
        allowed_scopes: Some(vec!["profile".into(), "mcp:tools".into()]),
        ..RegistrationPolicy::default()
    };
    let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "scope": "groups profile offline_access"});
    let m = substituted(body.clone(), &policy);
    assert_eq!(m.metadata.to_wire()["scope"], "profile");
    let change = &m.substitutions[0].change;
    assert!(
        change.contains("\"groups\", \"offline_access\""),
        "{change}"
    );
    // Nothing left: the default scope, or none when there is no default.
    let only_unknown = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "scope": "groups offline_access"});
    let with_default = RegistrationPolicy {
        default_scope: Scope::parse("mcp:tools").expect("scope"),
        ..policy.clone()
    };
    let m = substituted(only_unknown.clone(), &with_default);
    assert_eq!(m.metadata.to_wire()["scope"], "mcp:tools");
    let m = substituted(only_unknown, &policy);
    assert!(!m.metadata.to_wire().contains_key("scope"));
    // A malformed scope is still refused.
    let bad = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "scope": "profile bad\\scope"});
    assert!(refused_either_way(bad, &policy).starts_with("scope: "));
}

#[test]
fn a_disallowed_auth_method_is_replaced_by_an_allowed_one() {
    let none_only = RegistrationPolicy {
        allowed_auth_methods: vec![TokenEndpointAuthMethod::None],
        ..RegistrationPolicy::default()
    };
    // Claude's request on a server that only registers public clients.
    let claude = obj(serde_json::from_str::<Value>(include_str!(
        "../../tests/fixtures/real_clients.json"
    ))
    .expect("fixture")["claude"]
        .clone());
    let m = substituted(Value::Object(claude), &none_only);
    assert_eq!(
        m.metadata.token_endpoint_auth_method,
        TokenEndpointAuthMethod::None
    );
    assert_eq!(m.metadata.to_wire()["token_endpoint_auth_method"], "none");
    assert!(m.substitutions[0]
        .change
        .starts_with("\"client_secret_post\" is not allowed"));
    // Omitted means client_secret_basic (RFC 7591), replaced the same way.
    let m = substituted(
        json!({"redirect_uris": ["https://a.example/cb"]}),
        &none_only,
    );
    assert_eq!(
        m.metadata.token_endpoint_auth_method,
        TokenEndpointAuthMethod::None
    );
    // The reverse: a secret method when none is not allowed.
    let secrets_only = RegistrationPolicy {
        allowed_auth_methods: vec![TokenEndpointAuthMethod::ClientSecretPost],
        ..RegistrationPolicy::default()
    };
    let m = substituted(
        public(json!(["authorization_code", "refresh_token"])),
        &secrets_only,
    );
    assert_eq!(
        m.metadata.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretPost
    );
    // Another secret method is nearer than none.
    let basic_or_none = RegistrationPolicy {
        allowed_auth_methods: vec![
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretBasic,
        ],
        ..RegistrationPolicy::default()
    };
    let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_post"});
    let m = substituted(body, &basic_or_none);
    assert_eq!(
        m.metadata.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
}

#[test]
fn an_unknown_auth_method_stays_refused() {
    for method in ["private_key_jwt", "tls_client_auth", "NONE"] {
        let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": method});
        let msg = refused_either_way(body, &RegistrationPolicy::default());
        assert!(msg.contains("is not supported"), "{msg}");
    }
}

#[test]
fn response_type_code_with_only_refresh_token_gets_the_code_grant() {
    let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "response_types": ["code"], "grant_types": ["refresh_token"]});
    for mcp_profile in [true, false] {
        let policy = RegistrationPolicy {
            mcp_profile,
            ..RegistrationPolicy::default()
        };
        let m = substituted(body.clone(), &policy);
        assert_eq!(
            grants(&m),
            ["authorization_code", "refresh_token"],
            "mcp_profile={mcp_profile}"
        );
        assert_eq!(m.metadata.to_wire()["response_types"], json!(["code"]));
    }
    // An empty response_types beside authorization_code gets "code".
    let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "response_types": []});
    let m = substituted(body, &RegistrationPolicy::default());
    assert_eq!(m.metadata.to_wire()["response_types"], json!(["code"]));
    // Unknown response types (the implicit flow's "token") stay refused.
    let body = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
        "response_types": ["token"]});
    refused_either_way(body, &RegistrationPolicy::default());
}

#[test]
fn a_request_registered_as_sent_records_no_substitution() {
    let real: Value = serde_json::from_str(include_str!("../../tests/fixtures/real_clients.json"))
        .expect("fixture");
    for (name, body) in real.as_object().expect("object") {
        let m = parse_with(body.clone(), &RegistrationPolicy::default()).expect(name);
        assert!(m.substitutions.is_empty(), "{name}: {:?}", m.substitutions);
    }
}

// --- through the service: the audit trail, the secret, and RFC 7592 updates ------------------

fn service(policy: RegistrationPolicy) -> (RegistrationService, Arc<InMemoryClientRepository>) {
    let repo = Arc::new(InMemoryClientRepository::new());
    let svc = RegistrationService::new(
        repo.clone(),
        repo.clone(),
        Arc::new(policy),
        crate::testing::cheap_issuer(),
        Arc::new(ManualClock::new(NOW)),
    );
    (svc, repo)
}

#[test]
fn substitutions_are_audited_and_a_secret_follows_the_registered_method() {
    let none_only = RegistrationPolicy {
        allowed_auth_methods: vec![TokenEndpointAuthMethod::None],
        ..RegistrationPolicy::default()
    };
    let (svc, repo) = service(none_only);
    let body = json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_post"});
    let reg = svc
        .register(&obj(body), &RequestContext::default())
        .expect("registered");
    assert!(reg.client_secret.is_none(), "no secret for \"none\"");
    assert!(reg.client.secret_hash.is_none());
    let detail = repo.audit_events()[0].detail.clone().expect("detail");
    assert!(
        detail.contains("substituted: token_endpoint_auth_method: \"client_secret_post\""),
        "{detail}"
    );
    assert!(
        detail.contains("grant_types: added \"refresh_token\""),
        "{detail}"
    );

    let (svc, _) = service(RegistrationPolicy {
        allowed_auth_methods: vec![TokenEndpointAuthMethod::ClientSecretBasic],
        ..RegistrationPolicy::default()
    });
    let reg = svc
        .register(
            &obj(public(json!(["authorization_code"]))),
            &RequestContext::default(),
        )
        .expect("registered");
    assert!(
        reg.client_secret.is_some(),
        "a secret for client_secret_basic"
    );
}

#[test]
fn an_rfc7592_update_substitutes_like_a_registration() {
    let (svc, repo) = service(RegistrationPolicy::default());
    let reg = svc
        .register(
            &obj(public(json!(["authorization_code", "refresh_token"]))),
            &RequestContext::default(),
        )
        .expect("registered");
    let id = reg.client.client_id.clone();
    let mut update = public(json!(["authorization_code"]));
    update["client_id"] = json!(id);
    let token: SecretString = reg.registration_access_token;
    let updated = svc
        .update(
            &id,
            PresentedToken::Bearer(token.clone()),
            Ok(&obj(update.clone())),
            &RequestContext::default(),
        )
        .expect("updated");
    assert_eq!(
        updated.client.metadata.to_wire()["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let detail = repo
        .audit_events()
        .last()
        .and_then(|e| e.detail.clone())
        .expect("detail");
    assert!(detail.contains("substituted: grant_types"), "{detail}");

    // Strict: the same update is refused and nothing changes.
    let (svc, _) = service(RegistrationPolicy {
        substitution: false,
        ..RegistrationPolicy::default()
    });
    let reg = svc
        .register(
            &obj(public(json!(["authorization_code", "refresh_token"]))),
            &RequestContext::default(),
        )
        .expect("registered");
    update["client_id"] = json!(reg.client.client_id);
    let err = svc
        .update(
            &reg.client.client_id,
            PresentedToken::Bearer(reg.registration_access_token),
            Ok(&obj(update)),
            &RequestContext::default(),
        )
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidClientMetadata);
}
