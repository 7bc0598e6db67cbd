//! Unit tests of the registration rules, one per rule of the registration contract.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use crate::client_registration::*;
use crate::clock::ManualClock;
use crate::credentials::TokenDigest;

const NOW: i64 = 1_750_000_000;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("test payload must be an object"),
    }
}

fn parse(v: Value) -> Result<ClientMetadata, RegistrationError> {
    ClientMetadata::from_request_at(&obj(v), &RegistrationPolicy::default(), NOW)
}

fn parse_with(v: Value, policy: &RegistrationPolicy) -> Result<ClientMetadata, RegistrationError> {
    ClientMetadata::from_request_at(&obj(v), policy, NOW)
}

fn refused(v: Value) -> (ErrorCode, String) {
    let err = parse(v).expect_err("must be refused");
    (err.code(), err.to_string())
}

/// The default policy with substitution off (`registration.substitution = false`): every
/// substitutable request is refused, as before substitution existed.
pub(super) fn strict() -> RegistrationPolicy {
    RegistrationPolicy {
        substitution: false,
        ..RegistrationPolicy::default()
    }
}

fn refused_strictly(v: Value) -> (ErrorCode, String) {
    let err = parse_with(v, &strict()).expect_err("must be refused");
    (err.code(), err.to_string())
}

fn ctx() -> RequestContext {
    RequestContext {
        remote_addr: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        request_id: Some("req-1".into()),
    }
}

fn minimal() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base.as_object_mut()
        .expect("object")
        .insert(key.into(), value);
    base
}

fn real_clients() -> Map<String, Value> {
    obj(
        serde_json::from_str(include_str!("../../tests/fixtures/real_clients.json"))
            .expect("fixture"),
    )
}

#[test]
fn every_real_mcp_client_payload_is_accepted() {
    for (name, payload) in real_clients() {
        let metadata = parse(payload.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!metadata.redirect_uris.is_empty(), "{name}");
        assert_eq!(
            metadata.code_challenge_method,
            CodeChallengeMethod::S256,
            "{name}"
        );
        let wire = metadata.to_wire();
        assert!(wire.values().all(|v| !v.is_null()), "{name}: no nulls");
        assert_eq!(wire["redirect_uris"], payload["redirect_uris"], "{name}");
    }
}

#[test]
fn vscode_without_grant_filtering_is_refused_naming_the_device_code_grant_without_substitution() {
    let payload: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/vscode_unfiltered.json"))
            .expect("fixture");
    let (code, msg) = refused_strictly(payload);
    assert_eq!(code, ErrorCode::InvalidClientMetadata);
    assert!(msg.starts_with("grant_types[2]:"), "{msg}");
    assert!(msg.contains("device_code"), "{msg}");
    assert!(
        msg.contains("\"authorization_code\", \"refresh_token\""),
        "{msg}"
    );
}

#[test]
fn mcp_inspector_empty_scope_means_no_scope() {
    let m = parse(real_clients()["mcp_inspector"].clone()).expect("ok");
    assert_eq!(m.scope, None);
    assert!(!m.to_wire().contains_key("scope"));
}

#[test]
fn omitted_grant_types_default_to_code_and_refresh_under_mcp() {
    let m = parse(minimal()).expect("ok");
    assert_eq!(
        m.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
    assert_eq!(m.response_types, [ResponseType::Code]);
}

#[test]
fn omitted_grant_types_default_to_code_without_mcp() {
    let policy = RegistrationPolicy {
        mcp_profile: false,
        ..RegistrationPolicy::default()
    };
    let m = parse_with(minimal(), &policy).expect("ok");
    assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
}

#[test]
fn mcp_profile_requires_both_grants_without_substitution() {
    let (code, msg) = refused_strictly(with(
        minimal(),
        "grant_types",
        json!(["authorization_code"]),
    ));
    assert_eq!(code, ErrorCode::InvalidClientMetadata);
    assert!(msg.contains("MCP"), "{msg}");
    let policy = RegistrationPolicy {
        mcp_profile: false,
        ..RegistrationPolicy::default()
    };
    assert!(parse_with(
        with(minimal(), "grant_types", json!(["authorization_code"])),
        &policy
    )
    .is_ok());
}

#[test]
fn implicit_and_password_are_always_refused() {
    for grant in ["implicit", "password"] {
        let (code, msg) = refused(with(
            minimal(),
            "grant_types",
            json!(["authorization_code", "refresh_token", grant]),
        ));
        assert_eq!(code, ErrorCode::InvalidClientMetadata);
        assert!(msg.contains("never allowed"), "{msg}");
    }
}

#[test]
fn client_credentials_needs_policy_and_a_secret() {
    let payload = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"]});
    assert!(refused_strictly(payload.clone())
        .1
        .contains("not supported"));
    let mut policy = strict();
    policy
        .allowed_grant_types
        .push(GrantType::ClientCredentials);
    assert!(parse_with(payload.clone(), &policy).is_ok());
    let public = with(payload, "token_endpoint_auth_method", json!("none"));
    let err = parse_with(public, &policy).expect_err("refused");
    assert!(err.to_string().contains("confidential"), "{err}");
}

#[test]
fn grant_types_must_be_an_array_of_strings() {
    assert_eq!(
        refused(with(minimal(), "grant_types", json!("authorization_code"))).0,
        ErrorCode::InvalidClientMetadata
    );
    let (_, msg) = refused(with(
        minimal(),
        "grant_types",
        json!(["authorization_code", 7]),
    ));
    assert_eq!(msg, "grant_types[1]: expected a string, got a number");
    assert!(refused(with(minimal(), "grant_types", json!([])))
        .1
        .contains("must not be empty"));
}

#[test]
fn duplicate_grants_are_collapsed() {
    let m = parse(with(
        minimal(),
        "grant_types",
        json!(["refresh_token", "authorization_code", "refresh_token"]),
    ))
    .expect("ok");
    assert_eq!(
        m.grant_types,
        [GrantType::RefreshToken, GrantType::AuthorizationCode]
    );
}

#[test]
fn response_types_only_code() {
    let (code, msg) = refused(with(minimal(), "response_types", json!(["token"])));
    assert_eq!(code, ErrorCode::InvalidClientMetadata);
    assert!(msg.contains("only \"code\""), "{msg}");
    assert!(refused(with(
        minimal(),
        "response_types",
        json!(["code", "id_token"])
    ))
    .1
    .contains("response_types[1]"));
}

#[test]
fn inconsistent_response_and_grant_types_are_refused_without_substitution() {
    let (_, msg) = refused_strictly(with(minimal(), "response_types", json!([])));
    assert!(msg.contains("must include \"code\""), "{msg}");
    // Without an authorization_code grant to add (client_credentials only), even substitution
    // refuses.
    let mut policy = RegistrationPolicy {
        mcp_profile: false,
        ..RegistrationPolicy::default()
    };
    policy
        .allowed_grant_types
        .push(GrantType::ClientCredentials);
    let cc = json!({"token_endpoint_auth_method": "client_secret_basic", "grant_types": ["client_credentials"], "response_types": ["code"]});
    let err = parse_with(cc, &policy).expect_err("refused");
    assert!(
        err.to_string().contains("needs \"authorization_code\""),
        "{err}"
    );
}

#[test]
fn client_credentials_only_client_needs_no_redirect_uri() {
    let mut policy = RegistrationPolicy {
        mcp_profile: false,
        ..RegistrationPolicy::default()
    };
    policy
        .allowed_grant_types
        .push(GrantType::ClientCredentials);
    let m = parse_with(json!({"grant_types": ["client_credentials"]}), &policy).expect("ok");
    assert!(m.redirect_uris.is_empty());
    assert!(m.response_types.is_empty());
    assert!(!m.to_wire().contains_key("redirect_uris"));
}

#[test]
fn auth_method_defaults_to_client_secret_basic() {
    let m = parse(json!({"redirect_uris": ["https://a.example/cb"]})).expect("ok");
    assert_eq!(
        m.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert!(m.is_confidential());
}

#[test]
fn unsupported_auth_methods_are_refused_with_the_list() {
    for method in [
        "private_key_jwt",
        "client_secret_jwt",
        "tls_client_auth",
        "NONE",
    ] {
        let (code, msg) = refused(with(minimal(), "token_endpoint_auth_method", json!(method)));
        assert_eq!(code, ErrorCode::InvalidClientMetadata);
        assert!(
            msg.contains("\"none\", \"client_secret_basic\", \"client_secret_post\""),
            "{msg}"
        );
    }
    let policy = RegistrationPolicy {
        allowed_auth_methods: vec![TokenEndpointAuthMethod::None],
        ..strict()
    };
    let err = parse_with(
        with(
            minimal(),
            "token_endpoint_auth_method",
            json!("client_secret_post"),
        ),
        &policy,
    )
    .expect_err("refused");
    assert!(
        err.to_string().contains("not allowed by this server"),
        "{err}"
    );
}

#[test]
fn pkce_s256_is_registered_when_omitted_and_plain_is_refused() {
    assert_eq!(
        parse(minimal()).expect("ok").to_wire()["code_challenge_method"],
        "S256"
    );
    assert!(parse(with(minimal(), "code_challenge_method", json!("S256"))).is_ok());
    assert!(
        parse(with(minimal(), "code_challenge_method", json!(""))).is_ok(),
        "empty means absent"
    );
    for bad in [json!("plain"), json!("s256")] {
        let (code, msg) = refused(with(minimal(), "code_challenge_method", bad));
        assert_eq!(code, ErrorCode::InvalidClientMetadata);
        assert!(msg.contains("only \"S256\""), "{msg}");
    }
}

#[test]
fn redirect_uris_are_required_for_authorization_code() {
    let (code, msg) = refused(json!({"token_endpoint_auth_method": "none"}));
    assert_eq!(code, ErrorCode::InvalidRedirectUri);
    assert!(msg.starts_with("redirect_uris:"), "{msg}");
    assert_eq!(
        refused(json!({"redirect_uris": [], "token_endpoint_auth_method": "none"})).0,
        ErrorCode::InvalidRedirectUri
    );
}

#[test]
fn any_redirect_uri_problem_is_invalid_redirect_uri() {
    for bad in [
        json!("https://a.example/cb"),
        json!([1]),
        json!({}),
        json!(["ftp://x/cb"]),
        json!(["https://a.example/cb#f"]),
    ] {
        assert_eq!(
            refused(with(minimal(), "redirect_uris", bad.clone())).0,
            ErrorCode::InvalidRedirectUri,
            "{bad}"
        );
    }
}

#[test]
fn the_failing_redirect_uri_is_named_by_index() {
    let (_, msg) = refused(with(
        minimal(),
        "redirect_uris",
        json!(["https://ok.example/cb", "ftp://example.com/cb"]),
    ));
    assert_eq!(msg, "redirect_uris[1]: scheme \"ftp\" is not allowed; use https, http on a loopback host, or a private-use scheme");
}

#[test]
fn a_huge_redirect_uri_list_is_refused_by_count() {
    let uris: Vec<String> = (0..10_000)
        .map(|i| format!("https://a.example/{i}"))
        .collect();
    let (code, msg) = refused(with(minimal(), "redirect_uris", json!(uris)));
    assert_eq!(code, ErrorCode::InvalidRedirectUri);
    assert!(
        msg.contains("10000 values is more than the 20 allowed"),
        "{msg}"
    );
}

#[test]
fn duplicate_redirect_uris_are_collapsed_in_order() {
    let m = parse(with(
        minimal(),
        "redirect_uris",
        json!([
            "https://b.example/cb",
            "https://a.example/cb",
            "https://b.example/cb"
        ]),
    ))
    .expect("ok");
    let uris: Vec<&str> = m.redirect_uris.iter().map(RedirectUri::as_str).collect();
    assert_eq!(uris, ["https://b.example/cb", "https://a.example/cb"]);
}

#[test]
fn a_field_of_the_wrong_type_is_invalid_client_metadata() {
    let (code, msg) = refused(with(minimal(), "client_name", json!(12)));
    assert_eq!(code, ErrorCode::InvalidClientMetadata);
    assert_eq!(msg, "client_name: expected a string, got a number");
    assert_eq!(
        refused(with(minimal(), "contacts", json!("a@b.c"))).0,
        ErrorCode::InvalidClientMetadata
    );
    assert_eq!(
        refused(with(minimal(), "scope", json!(["a"]))).0,
        ErrorCode::InvalidClientMetadata
    );
}

#[test]
fn null_means_absent() {
    let payload = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": null,
        "client_name": null, "grant_types": null, "scope": null, "contacts": null, "jwks": null});
    let m = parse(payload).expect("ok");
    assert_eq!(
        m.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert_eq!(m.client_name, None);
}

#[test]
fn unknown_members_are_ignored_and_not_echoed() {
    let m = parse(with(minimal(), "x_custom", json!({"deep": [1, 2]}))).expect("ok");
    assert!(!m.to_wire().contains_key("x_custom"));
    let m = parse(with(
        with(minimal(), "client_id", json!("mine")),
        "client_secret",
        json!("s"),
    ))
    .expect("ok");
    assert!(!m.to_wire().contains_key("client_id"));
}

#[test]
fn scope_follows_the_policy() {
    let policy = RegistrationPolicy {
        allowed_scopes: Some(vec!["mcp:read".into(), "mcp:write".into()]),
        default_scope: Scope::parse("mcp:read").expect("ok"),
        ..strict()
    };
    let m = parse_with(minimal(), &policy).expect("ok");
    assert_eq!(m.scope.as_ref().map(Scope::as_str), Some("mcp:read"));
    let m = parse_with(with(minimal(), "scope", json!("")), &policy).expect("ok");
    assert_eq!(m.scope.as_ref().map(Scope::as_str), Some("mcp:read"));
    let err = parse_with(with(minimal(), "scope", json!("mcp:read admin")), &policy)
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidClientMetadata);
    assert!(
        err.to_string().contains("\"admin\" is not available"),
        "{err}"
    );
    assert!(parse(with(minimal(), "scope", json!("anything goes"))).is_ok());
    assert!(refused(with(minimal(), "scope", json!("bad\\scope")))
        .1
        .starts_with("scope:"));
}

#[test]
fn client_name_is_capped_and_plain_text() {
    assert!(
        refused(with(minimal(), "client_name", json!("x".repeat(201))))
            .1
            .contains("201 characters")
    );
    assert!(parse(with(minimal(), "client_name", json!("x".repeat(200)))).is_ok());
    let (code, msg) = refused(with(minimal(), "client_name", json!("Safe\u{202E}exe.txt")));
    assert_eq!(code, ErrorCode::InvalidClientMetadata);
    assert!(msg.contains("U+202E"), "{msg}");
    assert!(
        refused(with(minimal(), "client_name", json!("nul\u{0}byte")))
            .1
            .contains("U+0000")
    );
}

#[test]
fn empty_optional_strings_mean_absent() {
    let m = parse(with(
        with(minimal(), "client_uri", json!("")),
        "client_name",
        json!(""),
    ))
    .expect("ok");
    assert_eq!(m.client_uri, None);
    assert!(!m.to_wire().contains_key("client_uri"));
}

#[test]
fn metadata_uris_need_https_or_loopback() {
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        let (code, msg) = refused(with(minimal(), field, json!("http://example.com/")));
        assert_eq!(code, ErrorCode::InvalidClientMetadata);
        assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
        assert!(parse(with(minimal(), field, json!("https://example.com/"))).is_ok());
    }
    assert!(
        refused(with(minimal(), "jwks_uri", json!("http://localhost/jwks")))
            .1
            .starts_with("jwks_uri:")
    );
}

#[test]
fn language_tagged_fields_are_stored_and_echoed_exactly() {
    let payload = with(
        with(
            with(minimal(), "client_name#fr", json!("Mon appli")),
            "client_name#ja-Jpan-JP",
            json!("アプリ"),
        ),
        "tos_uri#de",
        json!("https://a.example/agb"),
    );
    let m = parse(payload).expect("ok");
    let wire = m.to_wire();
    assert_eq!(wire["client_name#fr"], "Mon appli");
    assert_eq!(wire["client_name#ja-Jpan-JP"], "アプリ");
    assert_eq!(wire["tos_uri#de"], "https://a.example/agb");
}

#[test]
fn bad_language_tags_and_values_are_refused() {
    assert!(
        refused(with(minimal(), "client_name#not a tag", json!("x")))
            .1
            .contains("not a BCP 47")
    );
    assert!(refused(with(minimal(), "client_name#fr", json!(5)))
        .1
        .contains("expected a string"));
    assert!(
        refused(with(minimal(), "logo_uri#fr", json!("javascript:alert(1)")))
            .1
            .starts_with("logo_uri#fr:")
    );
    // Tagged members of fields that are not human-readable are unknown members: ignored.
    assert!(parse(with(minimal(), "redirect_uris#fr", json!("whatever"))).is_ok());
}

#[test]
fn contacts_are_emails_at_most_ten() {
    let m = parse(with(
        minimal(),
        "contacts",
        json!(["ops@example.com", "ops@example.com", "dev@example.org"]),
    ))
    .expect("ok");
    assert_eq!(m.contacts, ["ops@example.com", "dev@example.org"]);
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}@example.com")).collect();
    assert!(refused(with(minimal(), "contacts", json!(eleven)))
        .1
        .contains("more than the 10"));
    assert_eq!(
        refused(with(minimal(), "contacts", json!(["not-an-email"]))).1,
        "contacts[0]: \"not-an-email\" is not an e-mail address"
    );
}

#[test]
fn jwks_and_jwks_uri_are_exclusive() {
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
    assert!(parse(with(minimal(), "jwks", jwks.clone())).is_ok());
    let both = with(
        with(minimal(), "jwks", jwks),
        "jwks_uri",
        json!("https://a.example/jwks"),
    );
    assert!(refused(both).1.contains("not both"));
}

#[test]
fn jwks_must_be_a_public_jwk_set() {
    assert!(refused(with(minimal(), "jwks", json!([])))
        .1
        .starts_with("jwks:"));
    assert!(
        refused(with(minimal(), "jwks", json!({"keys": [{"crv": "P-256"}]})))
            .1
            .contains("kty")
    );
    let private = json!({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "secret"}]});
    assert!(refused(with(minimal(), "jwks", private))
        .1
        .contains("private member \"d\""));
}

#[test]
fn application_type_is_web_or_native_and_never_refuses_uris() {
    let m = parse(with(
        with(minimal(), "application_type", json!("native")),
        "redirect_uris",
        json!(["https://a.example/cb", "http://127.0.0.1/"]),
    ))
    .expect("ok");
    assert_eq!(m.application_type, Some(ApplicationType::Native));
    assert!(
        refused(with(minimal(), "application_type", json!("desktop")))
            .1
            .starts_with("application_type:")
    );
}

#[test]
fn stored_form_round_trips() {
    for (_, payload) in real_clients() {
        let m = parse(payload).expect("ok");
        let stored = serde_json::to_string(&m).expect("serialize");
        let back: ClientMetadata = serde_json::from_str(&stored).expect("deserialize");
        assert_eq!(back, m);
    }
}

// --- software statements ---------------------------------------------------------------------

const ISSUER: &str = "https://vendor.example";
const KEY: &[u8] = b"a-shared-secret-of-at-least-32-bytes!!";

fn trusting_policy() -> RegistrationPolicy {
    RegistrationPolicy {
        software_statements: SoftwareStatementPolicy {
            trusted_issuers: vec![TrustedIssuer {
                issuer: ISSUER.into(),
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(KEY).expect("a non-empty HMAC key"),
            }],
            required: false,
        },
        ..RegistrationPolicy::default()
    }
}

fn statement(claims: Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key).expect("a non-empty HMAC key"),
    )
    .expect("sign")
}

#[test]
fn a_trusted_statement_overrides_body_members() {
    let jwt = statement(
        json!({"iss": ISSUER, "software_id": "vendor-app", "client_name": "Vendor App", "exp": NOW + 600}),
        KEY,
    );
    let payload = with(
        with(minimal(), "software_statement", json!(jwt)),
        "client_name",
        json!("Spoofed"),
    );
    let m = parse_with(payload, &trusting_policy()).expect("ok");
    assert_eq!(m.client_name.as_deref(), Some("Vendor App"));
    assert_eq!(m.software_id.as_deref(), Some("vendor-app"));
    assert_eq!(m.software_statement.as_deref(), Some(jwt.as_str()));
    assert!(!m.to_wire().contains_key("iss"));
}

#[test]
fn statement_claims_are_validated_like_the_body() {
    let jwt = statement(json!({"iss": ISSUER, "redirect_uris": ["ftp://x/cb"]}), KEY);
    let err = parse_with(
        with(minimal(), "software_statement", json!(jwt)),
        &trusting_policy(),
    )
    .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidRedirectUri);
}

#[test]
fn an_untrusted_issuer_is_unapproved() {
    let jwt = statement(json!({"iss": "https://stranger.example"}), KEY);
    let err = parse_with(
        with(minimal(), "software_statement", json!(jwt)),
        &trusting_policy(),
    )
    .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::UnapprovedSoftwareStatement);
    let err = parse(with(
        minimal(),
        "software_statement",
        json!(statement(json!({"iss": ISSUER}), KEY)),
    ))
    .expect_err("refused");
    assert_eq!(
        err.code(),
        ErrorCode::UnapprovedSoftwareStatement,
        "no issuer is trusted by default"
    );
}

#[test]
fn bad_signatures_malformed_and_expired_statements_are_invalid() {
    let policy = trusting_policy();
    let cases = [
        json!(statement(
            json!({"iss": ISSUER}),
            b"another-secret-of-at-least-32-bytes!!!"
        )),
        json!("not.a.jwt"),
        json!("garbage"),
        json!(statement(json!({"iss": ISSUER, "exp": NOW - 3600}), KEY)),
        json!(statement(json!({"iss": ISSUER, "nbf": NOW + 3600}), KEY)),
        json!(statement(json!({"software_id": "no issuer"}), KEY)),
    ];
    for case in cases {
        let err = parse_with(with(minimal(), "software_statement", case.clone()), &policy)
            .expect_err("refused");
        assert_eq!(
            err.code(),
            ErrorCode::InvalidSoftwareStatement,
            "{case}: {err}"
        );
        assert!(err.to_string().starts_with("software_statement: "), "{err}");
    }
}

#[test]
fn a_statement_of_the_wrong_type_is_invalid_metadata_and_an_empty_one_absent() {
    let policy = trusting_policy();
    let err =
        parse_with(with(minimal(), "software_statement", json!(42)), &policy).expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidClientMetadata);
    assert!(parse_with(with(minimal(), "software_statement", json!("")), &policy).is_ok());
}

#[test]
fn an_unsigned_statement_is_refused() {
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let jwt = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(json!({"iss": ISSUER}))
    );
    let err = parse_with(
        with(minimal(), "software_statement", json!(jwt)),
        &trusting_policy(),
    )
    .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidSoftwareStatement);
}

#[test]
fn a_required_statement_must_be_present() {
    let mut policy = trusting_policy();
    policy.software_statements.required = true;
    assert_eq!(
        parse_with(minimal(), &policy).expect_err("refused").code(),
        ErrorCode::InvalidSoftwareStatement
    );
}

// --- the service -----------------------------------------------------------------------------

fn service(policy: RegistrationPolicy) -> (RegistrationService, Arc<InMemoryClientRepository>) {
    let issuer = crate::testing::cheap_issuer();
    let repo = Arc::new(InMemoryClientRepository::new());
    let svc = RegistrationService::new(
        repo.clone(),
        repo.clone(),
        Arc::new(policy),
        issuer,
        Arc::new(ManualClock::new(NOW)),
    );
    (svc, repo)
}

#[test]
fn a_public_client_gets_no_secret_and_a_stored_token_digest() {
    let (svc, repo) = service(RegistrationPolicy::default());
    let reg = svc
        .register(&obj(real_clients()["claude_code"].clone()), &ctx())
        .expect("registered");
    assert!(reg.client_secret.is_none());
    assert_eq!(reg.client_secret_expires_at(), None);
    assert_eq!(reg.client.issued_at, NOW);
    let stored = repo
        .find(&reg.client.client_id)
        .expect("ok")
        .expect("stored");
    assert_eq!(stored.secret_hash, None);
    let tokens = repo.tokens_of(&reg.client.client_id);
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].0.digest,
        TokenDigest::of(reg.registration_access_token.expose_secret())
    );
    assert_eq!(tokens[0].0.expires_at, Some(NOW + 90 * 24 * 3600));
    let audit = repo.audit_events();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, AuditAction::ClientRegistered);
    assert_eq!(
        audit[0].client_id.as_deref(),
        Some(reg.client.client_id.as_str())
    );
}

#[test]
fn a_confidential_client_gets_a_secret_stored_only_as_argon2id() {
    let (svc, repo) = service(RegistrationPolicy::default());
    let reg = svc
        .register(&obj(real_clients()["claude"].clone()), &ctx())
        .expect("registered");
    let secret = reg.client_secret.as_ref().expect("secret issued");
    assert_eq!(reg.client_secret_expires_at(), Some(0));
    let stored = repo
        .find(&reg.client.client_id)
        .expect("ok")
        .expect("stored");
    let hash = stored.secret_hash.expect("hash");
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains(secret.expose_secret()));
}

#[test]
fn secret_and_token_lifetimes_follow_the_policy() {
    let mut policy = RegistrationPolicy::default();
    policy.credentials.secret_lifetime_secs = 3600;
    policy.credentials.registration_token_lifetime_secs = 0;
    let (svc, repo) = service(policy);
    let reg = svc
        .register(&obj(real_clients()["claude"].clone()), &ctx())
        .expect("registered");
    assert_eq!(reg.client_secret_expires_at(), Some(NOW + 3600));
    assert_eq!(repo.tokens_of(&reg.client.client_id)[0].0.expires_at, None);
}

#[test]
fn identical_registrations_create_distinct_clients() {
    let (svc, repo) = service(RegistrationPolicy::default());
    let payload = obj(real_clients()["claude"].clone());
    let a = svc.register(&payload, &ctx()).expect("a");
    let b = svc.register(&payload, &ctx()).expect("b");
    assert_ne!(a.client.client_id, b.client.client_id);
    assert_eq!(repo.len(), 2);
}

#[test]
fn a_refused_registration_writes_nothing() {
    let (svc, repo) = service(RegistrationPolicy::default());
    assert!(svc
        .register(
            &obj(json!({"redirect_uris": ["javascript:alert(1)"]})),
            &ctx()
        )
        .is_err());
    assert!(repo.is_empty());
}

#[test]
fn a_storage_failure_is_reported_without_detail_to_the_client() {
    #[derive(Debug)]
    struct Down;
    fn down<T>() -> Result<T, RepositoryError> {
        Err(RepositoryError::Unavailable("connection refused".into()))
    }
    impl ClientRepository for Down {
        fn create(
            &self,
            _: &Client,
            _: &RegistrationTokenRecord,
            _: &AuditEvent,
        ) -> Result<(), RepositoryError> {
            down()
        }
        fn find(&self, _: &str) -> Result<Option<Client>, RepositoryError> {
            down()
        }
        fn find_by_token(&self, _: &TokenDigest) -> Result<Option<TokenLookup>, RepositoryError> {
            down()
        }
        fn update(
            &self,
            _: &Client,
            _: Option<&TokenDigest>,
            _: Option<&TokenRotation>,
            _: &AuditEvent,
        ) -> Result<(), RepositoryError> {
            down()
        }
        fn delete(
            &self,
            _: &str,
            _: Option<&TokenDigest>,
            _: &AuditEvent,
        ) -> Result<(), RepositoryError> {
            down()
        }
        fn revoke_token(&self, _: &TokenDigest, _: &AuditEvent) -> Result<(), RepositoryError> {
            down()
        }
        fn set_locked(&self, _: &str, _: bool, _: &AuditEvent) -> Result<(), RepositoryError> {
            down()
        }
    }
    impl AuditLog for Down {
        fn record(&self, _: AuditEvent) -> Result<(), RepositoryError> {
            down()
        }
    }
    let issuer = crate::testing::cheap_issuer();
    let svc = RegistrationService::new(
        Arc::new(Down),
        Arc::new(Down),
        Arc::new(RegistrationPolicy::default()),
        issuer,
        Arc::new(ManualClock::new(NOW)),
    );
    let err = svc.register(&obj(minimal()), &ctx()).expect_err("fails");
    assert_eq!(err.code(), ErrorCode::TemporarilyUnavailable);
    assert!(!err.is_client_error());
}

#[test]
fn scope_count_and_jwks_size_have_limits_that_refusals_name() {
    let policy = RegistrationPolicy {
        max_scopes: 3,
        max_jwks_bytes: 200,
        ..RegistrationPolicy::default()
    };
    assert!(parse_with(with(minimal(), "scope", json!("a b c")), &policy).is_ok());
    let e = parse_with(with(minimal(), "scope", json!("a b c d")), &policy).expect_err("4 > 3");
    assert_eq!(
        e.to_string(),
        "scope: 4 scope values is more than the 3 allowed"
    );
    let small = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
    assert!(parse_with(with(minimal(), "jwks", small), &policy).is_ok());
    let big = json!({"keys": [{"kty": "RSA", "e": "AQAB", "n": "x".repeat(300)}]});
    let e = parse_with(with(minimal(), "jwks", big), &policy).expect_err("too big");
    assert!(
        e.to_string().starts_with("jwks: ")
            && e.to_string().contains("larger than the 200 allowed"),
        "{e}"
    );
    // The defaults: 50 scope values, 16 KiB of keys.
    let fifty_one: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
    assert!(
        refused(with(minimal(), "scope", json!(fifty_one.join(" "))))
            .1
            .contains("more than the 50 allowed")
    );
}
