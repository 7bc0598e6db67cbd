//! Unit tests of the authorization endpoint, one per row of contract §2 and per item of its
//! "bad input" list, then the service (pending requests, decisions, codes).

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::*;
use crate::client_registration::{
    AuditAction, AuditEvent, Client, ClientMetadata, ClientOrigin, ClientRepository,
    ClientSettings, ErrorCode, GrantType, InMemoryClientRepository, RedirectUriKind,
    RegistrationPolicy, RegistrationTokenRecord, RepositoryError, RequestContext, Scope,
};
use crate::clock::{Clock as _, ManualClock};
use crate::credentials::{SystemRandomSource, TokenDigest};

const NOW: i64 = 1_750_000_000;
const ISSUER: &str = "https://auth.example.com";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// ---------------------------------------------------------------------------------------------
// Fixtures

fn client(client_id: &str, metadata: Value) -> Client {
    let raw = metadata.as_object().cloned().unwrap_or_default();
    let metadata = ClientMetadata::from_request_at(&raw, &RegistrationPolicy::default(), NOW)
        .unwrap_or_else(|e| panic!("fixture {client_id}: {e}"));
    Client {
        client_id: client_id.into(),
        metadata,
        secret_hash: None,
        secret_expires_at: 0,
        issued_at: NOW,
        updated_at: NOW,
        origin: ClientOrigin::Dynamic,
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

fn public(redirect_uris: &[&str]) -> Value {
    json!({"redirect_uris": redirect_uris, "token_endpoint_auth_method": "none"})
}

fn register(repo: &InMemoryClientRepository, client: &Client) {
    let token = RegistrationTokenRecord {
        digest: TokenDigest::of(&format!("rat_{}", client.client_id)),
        client_id: client.client_id.clone(),
        issued_at: NOW,
        expires_at: None,
    };
    let audit = AuditEvent::new(
        NOW,
        AuditAction::ClientRegistered,
        "client",
        &RequestContext::default(),
    );
    repo.create(client, &token, &audit).expect("fixture client");
}

/// Clients: `web` (one https URI), `multi` (two), `native` (loopback URIs), `app` (private-use
/// scheme), `scoped` (registered scope), `cc` (not registered for authorization_code).
fn clients() -> Arc<InMemoryClientRepository> {
    let repo = InMemoryClientRepository::new();
    register(
        &repo,
        &client("web", public(&["https://app.example.com/cb"])),
    );
    register(
        &repo,
        &client(
            "multi",
            public(&[
                "https://app.example.com/cb",
                "https://app.example.com/other",
            ]),
        ),
    );
    register(
        &repo,
        &client(
            "native",
            public(&[
                "http://127.0.0.1:3000/callback",
                "http://localhost/cb",
                "http://[::1]:8080/cb",
            ]),
        ),
    );
    register(
        &repo,
        &client(
            "app",
            public(&["cursor://anysphere.cursor-mcp/oauth/callback"]),
        ),
    );
    let mut scoped = public(&["https://app.example.com/cb"]);
    scoped["scope"] = json!("mcp:tools mcp:resources");
    register(&repo, &client("scoped", scoped));
    let mut cc = client("cc", public(&["https://app.example.com/cb"]));
    cc.metadata.grant_types = vec![GrantType::ClientCredentials];
    register(&repo, &cc);
    Arc::new(repo)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A valid request from `web`, with `state=xyz`.
fn valid() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", "https://app.example.com/cb"),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// `valid()` with `name` set to `value` (replacing it, or appended).
fn with(name: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut list: Vec<_> = valid().into_iter().filter(|(k, _)| *k != name).collect();
    list.push((name, value));
    list
}

/// `valid()` without `name`.
fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    valid().into_iter().filter(|(k, _)| *k != name).collect()
}

fn parse_with(
    list: &[(&str, &str)],
    policy: &AuthorizationPolicy,
) -> Result<AuthorizationRequest, AuthorizationError> {
    let repo = clients();
    AuthorizationRequest::parse(&pairs(list), policy, |id| repo.find(id)).map(|(r, _)| r)
}

fn parse(list: &[(&str, &str)]) -> Result<AuthorizationRequest, AuthorizationError> {
    parse_with(list, &AuthorizationPolicy::default())
}

fn accepted(list: &[(&str, &str)]) -> AuthorizationRequest {
    parse(list).unwrap_or_else(|e| panic!("must be accepted: {e:?}"))
}

/// The description of an error page; panics on a redirect.
fn error_page(result: Result<AuthorizationRequest, AuthorizationError>) -> String {
    match result {
        Err(AuthorizationError::ErrorPage {
            error, description, ..
        }) => {
            assert_eq!(error, ErrorCode::InvalidRequest);
            description
        }
        other => panic!("expected an error page, got {other:?}"),
    }
}

/// The code, description and echoed state of a redirected error; panics otherwise.
fn redirected(
    result: Result<AuthorizationRequest, AuthorizationError>,
) -> (ErrorCode, String, Option<String>) {
    match result {
        Err(AuthorizationError::Redirect {
            redirect_uri,
            error,
            description,
            state,
            ..
        }) => {
            assert_eq!(redirect_uri, "https://app.example.com/cb");
            (error, description, state)
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn code_of(result: Result<AuthorizationRequest, AuthorizationError>) -> ErrorCode {
    redirected(result).0
}

fn scopes(names: &[&str]) -> AuthorizationPolicy {
    AuthorizationPolicy {
        scopes: Some(
            names
                .iter()
                .map(|n| ScopeDefinition {
                    name: (*n).into(),
                    description: format!("Allows {n}"),
                })
                .collect(),
        ),
        ..AuthorizationPolicy::default()
    }
}

fn resource(raw: &str) -> ResourceIndicator {
    ResourceIndicator::parse(raw).expect("valid resource")
}

// ---------------------------------------------------------------------------------------------
// Check 1: the client (error page)

#[test]
fn a_valid_request_is_accepted_with_everything_it_asked_for() {
    let request = accepted(&valid());
    assert_eq!(request.client_id, "web");
    assert_eq!(request.redirect_uri, "https://app.example.com/cb");
    assert!(request.redirect_uri_sent);
    assert_eq!(request.redirect_uri_kind, RedirectUriKind::Https);
    assert_eq!(request.state.as_deref(), Some("xyz"));
    assert_eq!(request.code_challenge.as_str(), CHALLENGE);
    assert!(request.scope.is_empty());
    assert!(request.resources.is_empty());
    assert_eq!(request.prompt, None);
}

#[test]
fn a_missing_client_id_is_an_error_page() {
    assert!(error_page(parse(&without("client_id"))).contains("no client_id"));
}

#[test]
fn an_empty_client_id_counts_as_missing() {
    assert!(error_page(parse(&with("client_id", ""))).contains("no client_id"));
}

#[test]
fn an_unknown_client_id_is_an_error_page() {
    assert!(error_page(parse(&with("client_id", "nobody"))).contains("not registered"));
}

#[test]
fn a_deleted_client_is_an_error_page() {
    let repo = clients();
    let audit = AuditEvent::new(
        NOW,
        AuditAction::ClientDeleted,
        "client",
        &RequestContext::default(),
    );
    repo.delete("web", None, &audit).expect("deleted");
    let result =
        AuthorizationRequest::parse(&pairs(&valid()), &AuthorizationPolicy::default(), |id| {
            repo.find(id)
        });
    assert!(matches!(result, Err(AuthorizationError::ErrorPage { .. })));
}

#[test]
fn a_repeated_client_id_is_an_error_page_even_when_both_are_the_same() {
    let mut list = valid();
    list.push(("client_id", "web"));
    assert!(error_page(parse(&list)).contains("more than once"));
}

#[test]
fn a_storage_failure_before_the_redirect_uri_is_verified_is_an_error_page_not_a_redirect() {
    for (failure, code) in [
        (
            RepositoryError::Unavailable("db down".into()),
            ErrorCode::TemporarilyUnavailable,
        ),
        (
            RepositoryError::Other("disk".into()),
            ErrorCode::ServerError,
        ),
    ] {
        let result =
            AuthorizationRequest::parse(&pairs(&valid()), &AuthorizationPolicy::default(), |_| {
                Err(failure.clone())
            });
        match result {
            Err(AuthorizationError::ErrorPage {
                error,
                description,
                internal,
            }) => {
                assert_eq!(error, code);
                assert!(!description.contains("db down") && !description.contains("disk"));
                assert!(internal.is_some());
                assert!(error.http_status() >= 500);
            }
            other => panic!("expected an error page, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Check 2: the redirect URI (error page)

#[test]
fn a_missing_redirect_uri_uses_the_only_registered_one() {
    let request = accepted(&without("redirect_uri"));
    assert_eq!(request.redirect_uri, "https://app.example.com/cb");
    assert!(!request.redirect_uri_sent);
}

#[test]
fn a_missing_redirect_uri_is_an_error_page_when_several_are_registered() {
    let list = without("redirect_uri")
        .into_iter()
        .map(|(k, v)| {
            if k == "client_id" {
                (k, "multi")
            } else {
                (k, v)
            }
        })
        .collect::<Vec<_>>();
    assert!(error_page(parse(&list)).contains("more than one"));
}

#[test]
fn any_registered_redirect_uri_of_several_is_accepted() {
    let mut list = with("redirect_uri", "https://app.example.com/other");
    list.retain(|(k, _)| *k != "client_id");
    list.push(("client_id", "multi"));
    assert_eq!(
        accepted(&list).redirect_uri,
        "https://app.example.com/other"
    );
}

#[test]
fn a_repeated_redirect_uri_is_an_error_page() {
    let mut list = valid();
    list.push(("redirect_uri", "https://app.example.com/cb"));
    assert!(error_page(parse(&list)).contains("more than once"));
}

#[test]
fn a_redirect_uri_with_a_trailing_slash_is_an_error_page() {
    error_page(parse(&with("redirect_uri", "https://app.example.com/cb/")));
}

#[test]
fn a_redirect_uri_differing_in_case_is_an_error_page() {
    error_page(parse(&with("redirect_uri", "https://APP.example.com/cb")));
    error_page(parse(&with("redirect_uri", "https://app.example.com/CB")));
    error_page(parse(&with("redirect_uri", "HTTPS://app.example.com/cb")));
}

#[test]
fn a_redirect_uri_with_an_added_query_is_an_error_page() {
    error_page(parse(&with(
        "redirect_uri",
        "https://app.example.com/cb?x=1",
    )));
    error_page(parse(&with("redirect_uri", "https://app.example.com/cb?")));
}

#[test]
fn a_redirect_uri_with_userinfo_is_an_error_page() {
    error_page(parse(&with(
        "redirect_uri",
        "https://evil@app.example.com/cb",
    )));
}

#[test]
fn a_redirect_uri_with_a_fragment_or_another_port_is_an_error_page() {
    error_page(parse(&with("redirect_uri", "https://app.example.com/cb#x")));
    error_page(parse(&with(
        "redirect_uri",
        "https://app.example.com:8443/cb",
    )));
    error_page(parse(&with(
        "redirect_uri",
        "https://app.example.com:443/cb",
    )));
}

#[test]
fn a_redirect_uri_of_another_host_is_an_error_page_and_never_redirected() {
    let result = parse(&with("redirect_uri", "https://evil.example/cb"));
    let err = result.expect_err("refused");
    assert_eq!(err.location(ISSUER), None);
}

fn native(redirect_uri: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut list = with("redirect_uri", redirect_uri);
    list.retain(|(k, _)| *k != "client_id");
    list.push(("client_id", "native"));
    list
}

#[test]
fn the_port_of_a_registered_loopback_redirect_uri_is_ignored() {
    for sent in [
        "http://127.0.0.1:3000/callback",
        "http://127.0.0.1:54321/callback",
        "http://127.0.0.1/callback",
        "http://localhost:49152/cb",
        "http://localhost/cb",
        "http://[::1]:1/cb",
        "http://[::1]/cb",
    ] {
        let request = parse(&native(sent)).unwrap_or_else(|e| panic!("{sent}: {e:?}"));
        assert_eq!(
            request.redirect_uri, sent,
            "the response goes to the port sent"
        );
        assert_eq!(request.redirect_uri_kind, RedirectUriKind::Loopback);
    }
}

#[test]
fn localhost_and_127_0_0_1_are_different_redirect_uris() {
    error_page(parse(&native("http://localhost:3000/callback")));
    error_page(parse(&native("http://127.0.0.1:5000/cb")));
    error_page(parse(&native("http://[::1]:5000/callback")));
}

#[test]
fn a_loopback_redirect_uri_differing_in_anything_but_the_port_is_an_error_page() {
    for sent in [
        "http://127.0.0.1:5000/callback/",
        "http://127.0.0.1:5000/Callback",
        "http://127.0.0.1:5000/callback?x=1",
        "http://user@127.0.0.1:5000/callback",
        "http://127.0.0.1:5000:6000/callback",
        "http://127.0.0.1:0/callback",
        "http://127.0.0.1:65536/callback",
        "http://127.0.0.1:/callback",
        "http://127.0.0.1:abc/callback",
        "https://127.0.0.1:5000/callback",
        "http://LOCALHOST:5000/cb",
        "http://127.0.0.1:5000/callback#x",
    ] {
        assert!(
            matches!(
                parse(&native(sent)),
                Err(AuthorizationError::ErrorPage { .. })
            ),
            "{sent}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Redirected errors (contract §2 table)

#[test]
fn a_missing_response_type_is_a_redirected_invalid_request_with_state() {
    let (code, description, state) = redirected(parse(&without("response_type")));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(description.contains("response_type"));
    assert_eq!(state.as_deref(), Some("xyz"));
}

#[test]
fn a_response_type_other_than_code_is_unsupported_response_type() {
    for rt in ["token", "code id_token", "CODE"] {
        let list = with("response_type", rt);
        assert_eq!(
            code_of(parse(&list)),
            ErrorCode::UnsupportedResponseType,
            "{rt}"
        );
    }
}

#[test]
fn two_state_parameters_are_invalid_request_and_neither_is_echoed() {
    let mut list = valid();
    list.push(("state", "other"));
    let (code, description, state) = redirected(parse(&list));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(description.contains("state appears more than once"));
    assert_eq!(state, None);
}

#[test]
fn two_code_challenge_parameters_are_invalid_request() {
    let mut list = valid();
    list.push(("code_challenge", CHALLENGE));
    let (code, description, state) = redirected(parse(&list));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(description.contains("code_challenge appears more than once"));
    assert_eq!(state.as_deref(), Some("xyz"));
}

#[test]
fn any_repeated_parameter_but_resource_is_invalid_request_known_or_not() {
    for name in [
        "response_type",
        "code_challenge_method",
        "scope",
        "prompt",
        "response_mode",
    ] {
        let mut list = valid();
        list.push((name, "x"));
        list.push((name, "y"));
        assert_eq!(code_of(parse(&list)), ErrorCode::InvalidRequest, "{name}");
    }
    // Contract §2: unknown parameters too (a proxy or a later reader could take the other copy).
    let mut list = valid();
    list.push(("nonce", "a"));
    list.push(("nonce", "b"));
    assert_eq!(code_of(parse(&list)), ErrorCode::InvalidRequest, "nonce");
    // A single unknown parameter is still ignored (RFC 6749 §3.1).
    let mut list = valid();
    list.push(("nonce", "a"));
    accepted(&list);
}

#[test]
fn a_10_kb_state_is_a_clear_invalid_request_still_redirected_without_echoing_it() {
    let big: &'static str = Box::leak("s".repeat(10 * 1024).into_boxed_str());
    let (code, description, state) = redirected(parse(&with("state", big)));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(
        description.contains("state is 10240 bytes; at most 2048"),
        "{description}"
    );
    assert_eq!(state, None);
}

#[test]
fn the_state_limit_is_a_policy_knob() {
    let policy = AuthorizationPolicy {
        max_state_bytes: 3,
        ..AuthorizationPolicy::default()
    };
    assert!(parse_with(&valid(), &policy).is_ok());
    let list = with("state", "abcd");
    assert_eq!(
        code_of(parse_with(&list, &policy)),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn an_empty_state_counts_as_not_sent() {
    assert_eq!(accepted(&with("state", "")).state, None);
}

#[test]
fn a_missing_code_challenge_is_invalid_request() {
    let (code, description, _) = redirected(parse(&without("code_challenge")));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(description.contains("code_challenge is required"));
}

#[test]
fn a_code_challenge_not_of_43_base64url_characters_is_invalid_request() {
    for bad in [
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
    ] {
        assert_eq!(
            code_of(parse(&with("code_challenge", bad))),
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
}

#[test]
fn a_missing_code_challenge_method_counts_as_plain_and_is_invalid_request() {
    let (code, description, _) = redirected(parse(&without("code_challenge_method")));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(description.contains("plain"), "{description}");
}

#[test]
fn code_challenge_method_plain_is_invalid_request() {
    assert_eq!(
        code_of(parse(&with("code_challenge_method", "plain"))),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn a_client_not_registered_for_authorization_code_is_unauthorized_client() {
    let mut list = valid();
    list.retain(|(k, _)| *k != "client_id");
    list.push(("client_id", "cc"));
    assert_eq!(code_of(parse(&list)), ErrorCode::UnauthorizedClient);
}

fn scoped(scope: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut list = valid();
    list.retain(|(k, _)| *k != "client_id");
    list.push(("client_id", "scoped"));
    if let Some(scope) = scope {
        list.push(("scope", scope));
    }
    list
}

#[test]
fn a_scope_outside_the_clients_registered_scope_is_invalid_scope() {
    let (code, description, _) = redirected(parse(&scoped(Some("mcp:tools admin"))));
    assert_eq!(code, ErrorCode::InvalidScope);
    assert!(description.contains("admin"), "{description}");
}

#[test]
fn a_scope_within_the_clients_registered_scope_is_granted_as_a_set() {
    let request = accepted(&scoped(Some("mcp:tools mcp:tools")));
    assert_eq!(request.scope.to_scope_string(), "mcp:tools");
}

#[test]
fn a_scope_outside_the_allowed_scopes_is_invalid_scope() {
    let policy = scopes(&["read"]);
    let list = with("scope", "read write");
    assert_eq!(code_of(parse_with(&list, &policy)), ErrorCode::InvalidScope);
    let list = with("scope", "read");
    assert_eq!(
        parse_with(&list, &policy)
            .expect("allowed")
            .scope
            .to_scope_string(),
        "read"
    );
}

#[test]
fn a_malformed_scope_is_invalid_scope() {
    assert_eq!(
        code_of(parse(&with("scope", "bad\"quote"))),
        ErrorCode::InvalidScope
    );
}

#[test]
fn an_omitted_scope_means_the_clients_registered_scope() {
    let request = accepted(&scoped(None));
    assert_eq!(request.scope.to_scope_string(), "mcp:resources mcp:tools");
}

#[test]
fn an_omitted_scope_means_the_policy_default_when_the_client_registered_none() {
    let policy = AuthorizationPolicy {
        default_scope: Scope::parse("read").expect("scope"),
        ..scopes(&["read", "write"])
    };
    let request = parse_with(&valid(), &policy).expect("accepted");
    assert_eq!(request.scope.to_scope_string(), "read");
}

#[test]
fn an_omitted_scope_drops_registered_tokens_the_policy_no_longer_offers() {
    let policy = scopes(&["mcp:tools"]);
    let request = parse_with(&scoped(None), &policy).expect("accepted");
    assert_eq!(request.scope.to_scope_string(), "mcp:tools");
}

#[test]
fn a_relative_resource_is_invalid_target() {
    assert_eq!(
        code_of(parse(&with("resource", "/mcp"))),
        ErrorCode::InvalidTarget
    );
}

#[test]
fn a_resource_with_a_fragment_is_invalid_target() {
    assert_eq!(
        code_of(parse(&with("resource", "https://mcp.example.com/mcp#x"))),
        ErrorCode::InvalidTarget
    );
}

#[test]
fn a_resource_outside_the_allow_list_is_invalid_target() {
    let policy = AuthorizationPolicy {
        resources: Some(vec![resource("https://mcp.example.com/mcp")]),
        ..AuthorizationPolicy::default()
    };
    let list = with("resource", "https://other.example.com/mcp");
    assert_eq!(
        code_of(parse_with(&list, &policy)),
        ErrorCode::InvalidTarget
    );
}

#[test]
fn a_resource_with_a_trailing_slash_matches_the_allow_list_entry_without_one() {
    let policy = AuthorizationPolicy {
        resources: Some(vec![resource("https://mcp.example.com")]),
        ..AuthorizationPolicy::default()
    };
    let request = parse_with(&with("resource", "https://mcp.example.com/"), &policy)
        .expect("the same resource");
    assert_eq!(request.resources, [resource("https://mcp.example.com")]);
}

#[test]
fn resource_may_repeat_and_equal_resources_collapse() {
    let mut list = valid();
    list.push(("resource", "https://a.example/mcp"));
    list.push(("resource", "https://b.example"));
    list.push(("resource", "https://b.example/"));
    let request = accepted(&list);
    assert_eq!(
        request.resources,
        [
            resource("https://a.example/mcp"),
            resource("https://b.example")
        ]
    );
}

#[test]
fn without_resource_the_policys_default_resource_applies() {
    let policy = AuthorizationPolicy {
        default_resource: Some(resource("https://mcp.example.com/mcp")),
        ..AuthorizationPolicy::default()
    };
    let request = parse_with(&valid(), &policy).expect("accepted");
    assert_eq!(request.resources, [resource("https://mcp.example.com/mcp")]);
}

#[test]
fn prompt_accepts_none_login_and_consent_only() {
    assert_eq!(
        accepted(&with("prompt", "none")).prompt,
        Some(Prompt::None_)
    );
    assert_eq!(
        accepted(&with("prompt", "login")).prompt,
        Some(Prompt::Login)
    );
    assert_eq!(
        accepted(&with("prompt", "consent")).prompt,
        Some(Prompt::Consent)
    );
    for bad in ["select_account", "login consent", "NONE"] {
        assert_eq!(
            code_of(parse(&with("prompt", bad))),
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
}

#[test]
fn a_response_mode_other_than_query_is_invalid_request() {
    accepted(&with("response_mode", "query"));
    assert_eq!(
        code_of(parse(&with("response_mode", "fragment"))),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn checks_run_in_the_contracts_order() {
    // A duplicated parameter is reported before a bad response_type…
    let mut list = with("response_type", "token");
    list.push(("scope", "a"));
    list.push(("scope", "b"));
    assert_eq!(code_of(parse(&list)), ErrorCode::InvalidRequest);
    // …a bad response_type before a missing challenge…
    let mut list = with("response_type", "token");
    list.retain(|(k, _)| *k != "code_challenge");
    assert_eq!(code_of(parse(&list)), ErrorCode::UnsupportedResponseType);
    // …and a bad scope before a bad resource.
    let mut list = with("scope", "bad\\");
    list.push(("resource", "/relative"));
    assert_eq!(code_of(parse(&list)), ErrorCode::InvalidScope);
}

// ---------------------------------------------------------------------------------------------
// Rendering the redirect (RFC 6749 §4.1.2, RFC 9207)

#[test]
fn an_error_redirect_carries_error_description_state_and_iss() {
    let err = parse(&without("response_type")).expect_err("refused");
    let location = err.location(ISSUER).expect("a redirect");
    assert!(
        location.starts_with("https://app.example.com/cb?error=invalid_request&error_description="),
        "{location}"
    );
    assert!(
        location.ends_with("&state=xyz&iss=https%3A%2F%2Fauth.example.com"),
        "{location}"
    );
}

#[test]
fn a_redirect_keeps_the_registered_query_and_percent_encodes_state() {
    let mut request = accepted(&valid());
    request.redirect_uri = "https://app.example.com/cb?tenant=a".into();
    request.state = Some("a b&c=d/é".into());
    let location = success_location(&request, "ac_123", ISSUER);
    assert_eq!(
        location,
        "https://app.example.com/cb?tenant=a&code=ac_123&state=a+b%26c%3Dd%2F%C3%A9&iss=https%3A%2F%2Fauth.example.com"
    );
}

#[test]
fn a_success_redirect_without_state_has_code_and_iss_only() {
    let request = accepted(&without("state"));
    assert_eq!(
        success_location(&request, "ac_x", ISSUER),
        "https://app.example.com/cb?code=ac_x&iss=https%3A%2F%2Fauth.example.com"
    );
}

#[test]
fn error_descriptions_hold_only_the_characters_rfc_6749_allows() {
    let request = accepted(&valid());
    let err = AuthorizationError::redirect(
        &request,
        ErrorCode::InvalidRequest,
        "bad \"x\" \\ é (RFC 6749 §3.3)",
    );
    // Quotes, backslashes and "§" get readable substitutes; anything else outside the set is '?'.
    assert_eq!(err.description(), "bad 'x' / ? (RFC 6749 section 3.3)");
}

#[test]
fn a_request_survives_a_round_trip_through_json_for_storage() {
    let mut list = with("scope", "b a");
    list.push(("resource", "https://mcp.example.com/"));
    list.push(("prompt", "consent"));
    let request = accepted(&list);
    let json = serde_json::to_string(&request).expect("serialise");
    let back: AuthorizationRequest = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, request);
}

// ---------------------------------------------------------------------------------------------
// The service: pending requests, decisions, codes

struct Env {
    service: AuthorizationService,
    clients: Arc<InMemoryClientRepository>,
    pending: Arc<InMemoryPendingAuthorizations>,
    codes: Arc<InMemoryAuthorizationCodes>,
    clock: Arc<ManualClock>,
}

fn env() -> Env {
    let clients = clients();
    let pending = Arc::new(InMemoryPendingAuthorizations::new());
    let codes = Arc::new(InMemoryAuthorizationCodes::new());
    let clock = Arc::new(ManualClock::new(NOW));
    let service = AuthorizationService::new(
        clients.clone(),
        pending.clone(),
        codes.clone(),
        Arc::new(SystemRandomSource::new()),
        clock.clone(),
        AuthorizationPolicy::default(),
        ISSUER,
    );
    Env {
        service,
        clients,
        pending,
        codes,
        clock,
    }
}

fn begin(env: &Env, list: &[(&str, &str)]) -> (String, PendingAuthorization) {
    let begun = env.service.begin(&pairs(list)).expect("begun");
    (begun.id.expose_secret().to_owned(), begun.pending)
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).expect("absolute location");
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn begin_keeps_the_request_for_600_seconds_under_a_random_id_stored_as_its_digest() {
    let env = env();
    let (id, pending) = begin(&env, &valid());
    assert!(id.starts_with("ar_"));
    assert_eq!(id.len(), 3 + 43);
    assert_eq!(pending.id_digest, TokenDigest::of(&id));
    assert_eq!(pending.expires_at - pending.created_at, 600);
    assert_eq!(env.pending.len(), 1);
    assert_eq!(env.service.find_pending(&id).expect("live"), pending);
    let (other, _) = begin(&env, &valid());
    assert_ne!(id, other);
}

#[test]
fn begin_refuses_what_parse_refuses() {
    let env = env();
    assert!(matches!(
        env.service.begin(&pairs(&with("client_id", "nobody"))),
        Err(AuthorizationError::ErrorPage { .. })
    ));
    assert!(env.pending.is_empty());
}

#[test]
fn an_expired_pending_request_is_an_error_page() {
    let env = env();
    let (id, _) = begin(&env, &valid());
    env.clock.advance(600);
    let err = env.service.find_pending(&id).expect_err("expired");
    assert_eq!(err.description(), PENDING_GONE_MESSAGE);
    assert!(env.service.approve(&id, "u1", NOW).is_err());
    assert_eq!(
        env.pending.delete_expired(env.clock.now()).expect("purge"),
        1
    );
}

#[test]
fn an_unknown_pending_id_is_an_error_page() {
    let env = env();
    assert!(matches!(
        env.service.find_pending("ar_nope"),
        Err(AuthorizationError::ErrorPage { .. })
    ));
}

fn signed_in(auth_time: i64) -> SignedIn {
    SignedIn {
        user_id: "u1".into(),
        auth_time,
    }
}

fn decide(
    env: &Env,
    list: &[(&str, &str)],
    session: Option<&SignedIn>,
    remembered: bool,
    require_consent: bool,
) -> Result<Decision, AuthorizationError> {
    let (_, pending) = begin(env, list);
    let settings = ClientSettings {
        require_consent,
        ..ClientSettings::default()
    };
    AuthorizationService::decide(&pending, session, remembered, &settings)
}

#[test]
fn without_a_session_the_user_signs_in() {
    let env = env();
    assert_eq!(
        decide(&env, &valid(), None, false, true).expect("decided"),
        Decision::NeedsSignIn
    );
}

#[test]
fn prompt_none_without_a_session_is_login_required() {
    let env = env();
    let err = decide(&env, &with("prompt", "none"), None, false, true).expect_err("refused");
    assert_eq!(err.code(), ErrorCode::LoginRequired);
    let location = err.location(ISSUER).expect("redirected");
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
}

#[test]
fn a_signed_in_user_is_asked_for_consent_when_the_client_requires_it() {
    let env = env();
    assert_eq!(
        decide(&env, &valid(), Some(&signed_in(NOW)), false, true).expect("decided"),
        Decision::NeedsConsent
    );
}

#[test]
fn a_remembered_consent_is_reused_for_an_https_redirect_uri() {
    let env = env();
    assert_eq!(
        decide(&env, &valid(), Some(&signed_in(NOW)), true, true).expect("decided"),
        Decision::Issue(signed_in(NOW))
    );
}

#[test]
fn a_remembered_consent_is_not_reused_for_a_loopback_redirect_uri() {
    let env = env();
    let list = native("http://127.0.0.1:4000/callback");
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), true, true).expect("decided"),
        Decision::NeedsConsent
    );
}

#[test]
fn a_remembered_consent_is_not_reused_for_a_private_use_scheme() {
    let env = env();
    let mut list = with(
        "redirect_uri",
        "cursor://anysphere.cursor-mcp/oauth/callback",
    );
    list.retain(|(k, _)| *k != "client_id");
    list.push(("client_id", "app"));
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), true, true).expect("decided"),
        Decision::NeedsConsent
    );
}

#[test]
fn a_client_that_does_not_require_consent_skips_the_page_even_on_loopback() {
    let env = env();
    let list = native("http://127.0.0.1:4000/callback");
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), false, false).expect("decided"),
        Decision::Issue(signed_in(NOW))
    );
}

#[test]
fn prompt_consent_asks_even_when_consent_is_remembered_or_not_required() {
    let env = env();
    let list = with("prompt", "consent");
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), true, true).expect("decided"),
        Decision::NeedsConsent
    );
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), false, false).expect("decided"),
        Decision::NeedsConsent
    );
}

#[test]
fn prompt_none_when_consent_is_needed_is_consent_required() {
    let env = env();
    let err = decide(
        &env,
        &with("prompt", "none"),
        Some(&signed_in(NOW)),
        false,
        true,
    )
    .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::ConsentRequired);
    assert_eq!(
        decide(
            &env,
            &with("prompt", "none"),
            Some(&signed_in(NOW)),
            true,
            true
        )
        .expect("remembered"),
        Decision::Issue(signed_in(NOW))
    );
}

#[test]
fn prompt_login_forces_a_sign_in_newer_than_the_request() {
    let env = env();
    let list = with("prompt", "login");
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW - 1)), true, true).expect("decided"),
        Decision::NeedsSignIn
    );
    assert_eq!(
        decide(&env, &list, Some(&signed_in(NOW)), true, true).expect("decided"),
        Decision::Issue(signed_in(NOW))
    );
}

#[test]
fn approve_redirects_with_a_code_state_and_iss_and_stores_only_the_codes_digest() {
    let env = env();
    let mut list = with("scope", "read");
    list.push(("resource", "https://mcp.example.com/"));
    let (id, pending) = begin(&env, &list);
    env.service
        .attach_user(&id, "u1", NOW - 5)
        .expect("attached");
    let location = env.service.approve(&id, "u1", NOW - 5).expect("approved");
    assert!(location.starts_with("https://app.example.com/cb?code=ac_"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&location, "code").expect("code");
    assert_eq!(code.len(), 3 + 43, "256 bits");

    let outcome = env
        .codes
        .consume(&TokenDigest::of(&code), NOW + 10)
        .expect("consumed");
    let ConsumeOutcome::Fresh(record) = outcome else {
        panic!("expected a fresh code, got {outcome:?}");
    };
    assert_eq!(record.client_id, "web");
    assert_eq!(
        record.redirect_uri.as_deref(),
        Some("https://app.example.com/cb")
    );
    assert_eq!(record.code_challenge, pending.request.code_challenge);
    assert_eq!(record.scope.to_scope_string(), "read");
    assert_eq!(record.resources, [resource("https://mcp.example.com")]);
    assert_eq!(record.user_id, "u1");
    assert_eq!(record.auth_time, NOW - 5);
    assert_eq!(record.expires_at - record.issued_at, 60);
    assert!(!record.family_id.is_empty());
    assert!(env.pending.is_empty(), "the pending request is gone");
}

#[test]
fn a_pending_request_is_approved_only_once() {
    let env = env();
    let (id, _) = begin(&env, &valid());
    env.service.approve(&id, "u1", NOW).expect("approved");
    let err = env
        .service
        .approve(&id, "u1", NOW)
        .expect_err("second approval");
    assert_eq!(err.description(), PENDING_GONE_MESSAGE);
    assert_eq!(env.codes.len(), 1);
}

#[test]
fn a_request_signed_in_by_one_user_cannot_be_approved_for_another() {
    let env = env();
    let (id, _) = begin(&env, &valid());
    env.service.attach_user(&id, "u1", NOW).expect("attached");
    assert!(matches!(
        env.service.approve(&id, "u2", NOW),
        Err(AuthorizationError::ErrorPage { .. })
    ));
}

#[test]
fn a_client_deleted_while_the_user_consents_gets_the_error_page_and_no_code() {
    let env = env();
    let (id, _) = begin(&env, &valid());
    let audit = AuditEvent::new(
        NOW,
        AuditAction::ClientDeleted,
        "client",
        &RequestContext::default(),
    );
    env.clients.delete("web", None, &audit).expect("deleted");
    assert!(matches!(
        env.service.approve(&id, "u1", NOW),
        Err(AuthorizationError::ErrorPage { .. })
    ));
    assert!(env.codes.is_empty());
}

#[test]
fn the_code_of_a_request_without_redirect_uri_is_bound_to_its_absence() {
    let env = env();
    let (id, _) = begin(&env, &without("redirect_uri"));
    let location = env.service.approve(&id, "u1", NOW).expect("approved");
    let code = query_param(&location, "code").expect("code");
    let ConsumeOutcome::Fresh(record) = env
        .codes
        .consume(&TokenDigest::of(&code), NOW)
        .expect("consumed")
    else {
        panic!("expected a fresh code");
    };
    assert_eq!(record.redirect_uri, None);
    let verifier = CodeVerifier::parse(VERIFIER).expect("verifier");
    assert!(record.check_exchange("web", None, &verifier).is_ok());
    assert!(record
        .check_exchange("web", Some("https://app.example.com/cb"), &verifier)
        .is_err());
}

#[test]
fn deny_redirects_with_access_denied_and_forgets_the_request() {
    let env = env();
    let (id, _) = begin(&env, &valid());
    let location = env.service.deny(&id).expect("denied");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    assert!(env.pending.is_empty());
    assert!(env.service.approve(&id, "u1", NOW).is_err());
}

fn issued_code(env: &Env) -> String {
    let (id, _) = begin(env, &valid());
    let location = env.service.approve(&id, "u1", NOW).expect("approved");
    query_param(&location, "code").expect("code")
}

#[test]
fn a_code_used_twice_is_already_used_with_its_family() {
    let env = env();
    let code = issued_code(&env);
    let digest = TokenDigest::of(&code);
    let ConsumeOutcome::Fresh(first) = env.codes.consume(&digest, NOW + 1).expect("first") else {
        panic!("expected a fresh code");
    };
    let ConsumeOutcome::AlreadyUsed(again) = env.codes.consume(&digest, NOW + 2).expect("again")
    else {
        panic!("expected a replay");
    };
    assert_eq!(again.family_id, first.family_id);
    assert_eq!(again.used_at, Some(NOW + 1));
    // Still a replay after the code's lifetime.
    assert!(matches!(
        env.codes.consume(&digest, NOW + 3600).expect("later"),
        ConsumeOutcome::AlreadyUsed(_)
    ));
}

#[test]
fn a_code_past_its_lifetime_is_expired_and_stays_unused() {
    let env = env();
    let code = issued_code(&env);
    let digest = TokenDigest::of(&code);
    assert!(matches!(
        env.codes.consume(&digest, NOW + 60).expect("late"),
        ConsumeOutcome::Expired(_)
    ));
    assert!(matches!(
        env.codes.consume(&digest, NOW + 61).expect("later"),
        ConsumeOutcome::Expired(_)
    ));
    assert_eq!(env.codes.delete_expired(NOW + 61).expect("purged"), 1);
    assert_eq!(
        env.codes.consume(&digest, NOW + 62).expect("gone"),
        ConsumeOutcome::Unknown
    );
}

#[test]
fn a_code_just_inside_its_lifetime_is_fresh() {
    let env = env();
    let code = issued_code(&env);
    assert!(matches!(
        env.codes
            .consume(&TokenDigest::of(&code), NOW + 59)
            .expect("in time"),
        ConsumeOutcome::Fresh(_)
    ));
}

#[test]
fn an_unknown_code_is_unknown() {
    let env = env();
    assert_eq!(
        env.codes
            .consume(&TokenDigest::of("ac_nope"), NOW)
            .expect("looked up"),
        ConsumeOutcome::Unknown
    );
}

#[test]
fn a_code_exchange_checks_client_redirect_uri_and_verifier() {
    let env = env();
    let code = issued_code(&env);
    let ConsumeOutcome::Fresh(record) = env
        .codes
        .consume(&TokenDigest::of(&code), NOW)
        .expect("consumed")
    else {
        panic!("expected a fresh code");
    };
    let verifier = CodeVerifier::parse(VERIFIER).expect("verifier");
    let cb = Some("https://app.example.com/cb");
    assert!(record.check_exchange("web", cb, &verifier).is_ok());
    assert!(record.check_exchange("other", cb, &verifier).is_err());
    assert!(record.check_exchange("web", None, &verifier).is_err());
    assert!(record
        .check_exchange("web", Some("https://app.example.com/cb/"), &verifier)
        .is_err());
    let wrong = CodeVerifier::parse(&"a".repeat(43)).expect("verifier");
    let err = record
        .check_exchange("web", cb, &wrong)
        .expect_err("refused");
    assert!(err.0.contains("code_verifier"));
}

#[test]
fn csrf_tokens_are_bound_to_the_request_and_the_session() {
    let env = env();
    let (_, pending) = begin(&env, &valid());
    let (_, other) = begin(&env, &valid());
    let session = TokenDigest::of("session-a");
    let token = pending.csrf_token(&session);
    assert_eq!(token.len(), 43);
    assert!(pending.verify_csrf(&session, &token));
    assert!(!pending.verify_csrf(&TokenDigest::of("session-b"), &token));
    assert!(!other.verify_csrf(&session, &token));
    assert!(!pending.verify_csrf(&session, ""));
}

#[test]
fn a_storage_failure_after_the_redirect_uri_is_verified_is_redirected_as_server_error() {
    #[derive(Debug)]
    struct Broken;
    impl PendingAuthorizationRepository for Broken {
        fn insert(&self, _: &PendingAuthorization) -> Result<(), RepositoryError> {
            Err(RepositoryError::Other("disk full".into()))
        }
        fn find(&self, _: &TokenDigest) -> Result<Option<PendingAuthorization>, RepositoryError> {
            Ok(None)
        }
        fn attach_user(&self, _: &TokenDigest, _: &str, _: i64) -> Result<(), RepositoryError> {
            Ok(())
        }
        fn delete(&self, _: &TokenDigest) -> Result<bool, RepositoryError> {
            Ok(false)
        }
        fn delete_expired(&self, _: i64) -> Result<u64, RepositoryError> {
            Ok(0)
        }
    }
    let service = AuthorizationService::new(
        clients(),
        Arc::new(Broken),
        Arc::new(InMemoryAuthorizationCodes::new()),
        Arc::new(SystemRandomSource::new()),
        Arc::new(ManualClock::new(NOW)),
        AuthorizationPolicy::default(),
        ISSUER,
    );
    let err = service.begin(&pairs(&valid())).expect_err("fault");
    assert_eq!(err.code(), ErrorCode::ServerError);
    let location = err.location(ISSUER).expect("redirected, never a 5xx page");
    assert!(!location.contains("disk"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
}

#[test]
fn a_locked_client_gets_the_error_page() {
    let repo = clients();
    let mut client = repo.find("web").expect("read").expect("exists");
    client.is_locked = true;
    let result =
        AuthorizationRequest::parse(&pairs(&valid()), &AuthorizationPolicy::default(), |_| {
            Ok(Some(client.clone()))
        })
        .map(|(r, _)| r);
    let description = error_page(result);
    assert!(description.contains("suspended"), "{description}");
}
