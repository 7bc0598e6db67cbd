use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::credentials::SystemRandomSource;
use crate::keys::{JwkSet, KeyRing, SigningAlgorithm, SigningKey, DEFAULT_LEEWAY_SECS};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://mcp.example.com";

fn key(algorithm: SigningAlgorithm) -> SigningKey {
    static RSA: OnceLock<SigningKey> = OnceLock::new();
    let rng = SystemRandomSource::new();
    match algorithm {
        SigningAlgorithm::RS256 => RSA
            .get_or_init(|| SigningKey::generate(algorithm, &rng).expect("rsa"))
            .clone(),
        other => SigningKey::generate(other, &rng).expect("key"),
    }
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "user-1".into(),
        aud: vec![AUD.into()],
        client_id: "client-1".into(),
        scope: "read write".into(),
        iat: NOW,
        exp: NOW + 600,
        jti: "jti-1".into(),
        auth_time: Some(NOW - 5),
        grant_id: None,
    }
}

fn verifier(ring: &KeyRing, now: i64) -> AccessTokenVerifier {
    AccessTokenVerifier::new(&ring.jwk_set(NOW), ISS, AUD)
        .expect("verifier")
        .with_clock(Arc::new(ManualClock::new(now)))
}

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("b64")).expect("json")
}

/// A token with the given header and claims, signed by `key` as the header says.
fn forge(header: &Value, claims: &Value, signer: &SigningKey) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = jsonwebtoken::crypto::sign(
        format!("{h}.{c}").as_bytes(),
        signer.encoding_key(),
        signer.algorithm().jwt(),
    )
    .expect("sign");
    format!("{h}.{c}.{signature}")
}

#[test]
fn every_algorithm_signs_a_token_its_jwk_verifies() {
    for algorithm in SigningAlgorithm::ALL {
        let ring = KeyRing::single(key(*algorithm));
        let token = ring.sign_access_token(&claims()).expect("sign");
        assert_eq!(
            verifier(&ring, NOW).verify(&token).expect("verify"),
            claims()
        );
    }
}

#[test]
fn the_header_is_at_jwt_with_alg_and_kid() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    let token = ring.sign_access_token(&claims()).expect("sign");
    let header = part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], signer.kid());
}

#[test]
fn one_audience_is_a_string_several_an_array_and_empty_scope_is_omitted() {
    let ring = KeyRing::single(key(SigningAlgorithm::EdDSA));
    let token = ring.sign_access_token(&claims()).expect("sign");
    let body = part(&token, 1);
    assert_eq!(body["aud"], AUD);
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["auth_time"], NOW - 5);

    let mut two = claims();
    two.aud.push("https://other.example.com".into());
    two.scope.clear();
    two.auth_time = None;
    let token = ring.sign_access_token(&two).expect("sign");
    let body = part(&token, 1);
    assert_eq!(body["aud"], json!([AUD, "https://other.example.com"]));
    assert!(body.get("scope").is_none());
    assert!(body.get("auth_time").is_none());
    assert_eq!(verifier(&ring, NOW).verify(&token).expect("verify"), two);
}

#[test]
fn the_verifier_refuses_alg_none() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    let h = URL_SAFE_NO_PAD
        .encode(json!({"alg": "none", "typ": "at+jwt", "kid": signer.kid()}).to_string());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims()).expect("json"));
    let token = format!("{h}.{c}.");
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::UnsupportedAlgorithm(alg)) if alg == "none"
    ));
}

#[test]
fn the_verifier_refuses_hs256_even_keyed_with_the_public_key() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    // The classic confusion: an HMAC keyed with the published key's bytes.
    let secret = ring.jwk_set(NOW).to_json();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(signer.kid().to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(secret.as_bytes()).expect("hmac key"),
    )
    .expect("sign");
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::UnsupportedAlgorithm(alg)) if alg == "HS256"
    ));
}

#[test]
fn the_verifier_refuses_a_token_that_is_not_typed_at_jwt() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    let body = serde_json::to_value(claims()).expect("json");
    let jwt = forge(
        &json!({"alg": "ES256", "typ": "JWT", "kid": signer.kid()}),
        &body,
        &signer,
    );
    assert!(matches!(
        verifier(&ring, NOW).verify(&jwt),
        Err(AccessTokenError::WrongType(Some(t))) if t == "JWT"
    ));
    let untyped = forge(
        &json!({"alg": "ES256", "kid": signer.kid()}),
        &body,
        &signer,
    );
    assert!(matches!(
        verifier(&ring, NOW).verify(&untyped),
        Err(AccessTokenError::WrongType(None))
    ));
    let media_type = forge(
        &json!({"alg": "ES256", "typ": "application/at+JWT", "kid": signer.kid()}),
        &body,
        &signer,
    );
    assert!(verifier(&ring, NOW).verify(&media_type).is_ok());
}

#[test]
fn the_verifier_refuses_a_token_for_another_audience() {
    let ring = KeyRing::single(key(SigningAlgorithm::ES256));
    let token = ring.sign_access_token(&claims()).expect("sign");
    let other = AccessTokenVerifier::new(&ring.jwk_set(NOW), ISS, "https://other.example.com")
        .expect("verifier")
        .with_clock(Arc::new(ManualClock::new(NOW)));
    assert!(matches!(
        other.verify(&token),
        Err(AccessTokenError::WrongAudience { expected }) if expected == "https://other.example.com"
    ));
}

#[test]
fn the_verifier_refuses_a_token_of_another_issuer() {
    let ring = KeyRing::single(key(SigningAlgorithm::ES256));
    let token = ring.sign_access_token(&claims()).expect("sign");
    let other = AccessTokenVerifier::new(&ring.jwk_set(NOW), "https://evil.example.com", AUD)
        .expect("verifier")
        .with_clock(Arc::new(ManualClock::new(NOW)));
    assert!(matches!(
        other.verify(&token),
        Err(AccessTokenError::WrongIssuer { found, .. }) if found == ISS
    ));
}

#[test]
fn the_verifier_refuses_an_expired_token_after_the_leeway() {
    let ring = KeyRing::single(key(SigningAlgorithm::EdDSA));
    let token = ring.sign_access_token(&claims()).expect("sign");
    let exp = claims().exp;
    assert!(verifier(&ring, exp + DEFAULT_LEEWAY_SECS - 1)
        .verify(&token)
        .is_ok());
    assert!(matches!(
        verifier(&ring, exp + DEFAULT_LEEWAY_SECS).verify(&token),
        Err(AccessTokenError::Expired { exp: e }) if e == exp
    ));
    assert!(matches!(
        verifier(&ring, exp).with_leeway(0).verify(&token),
        Err(AccessTokenError::Expired { .. })
    ));
}

#[test]
fn the_verifier_refuses_a_token_not_valid_yet() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    let mut body = serde_json::to_value(claims()).expect("json");
    body["nbf"] = json!(NOW + 300);
    let token = forge(
        &json!({"alg": "ES256", "typ": "at+jwt", "kid": signer.kid()}),
        &body,
        &signer,
    );
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::NotYetValid { nbf }) if nbf == NOW + 300
    ));
    assert!(verifier(&ring, NOW + 300 - DEFAULT_LEEWAY_SECS)
        .verify(&token)
        .is_ok());
}

#[test]
fn the_verifier_refuses_an_unknown_kid_and_a_missing_one() {
    let ring = KeyRing::single(key(SigningAlgorithm::ES256));
    let stranger = KeyRing::single(key(SigningAlgorithm::ES256));
    let token = stranger.sign_access_token(&claims()).expect("sign");
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::UnknownKey(_))
    ));
    let signer = key(SigningAlgorithm::ES256);
    let body = serde_json::to_value(claims()).expect("json");
    let no_kid = forge(&json!({"alg": "ES256", "typ": "at+jwt"}), &body, &signer);
    assert!(matches!(
        verifier(&KeyRing::single(signer), NOW).verify(&no_kid),
        Err(AccessTokenError::MissingKeyId)
    ));
}

#[test]
fn the_verifier_refuses_a_bad_signature() {
    let ring = KeyRing::single(key(SigningAlgorithm::ES256));
    let token = ring.sign_access_token(&claims()).expect("sign");
    let mut other = claims();
    other.sub = "admin".into();
    let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_string(&other).expect("json"));
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged_body, parts[2]);
    assert!(matches!(
        verifier(&ring, NOW).verify(&tampered),
        Err(AccessTokenError::BadSignature)
    ));
}

#[test]
fn the_verifier_refuses_a_header_alg_other_than_the_keys() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    let body = serde_json::to_value(claims()).expect("json");
    let token = forge(
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": signer.kid()}),
        &body,
        &key(SigningAlgorithm::EdDSA),
    );
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn the_verifier_refuses_malformed_tokens_and_missing_claims() {
    let signer = key(SigningAlgorithm::ES256);
    let ring = KeyRing::single(signer.clone());
    for junk in ["", "a.b", "a.b.c.d", "!!!.b.c"] {
        assert!(matches!(
            verifier(&ring, NOW).verify(junk),
            Err(AccessTokenError::Malformed(_))
        ));
    }
    let mut body = serde_json::to_value(claims()).expect("json");
    body.as_object_mut().expect("object").remove("jti");
    let token = forge(
        &json!({"alg": "ES256", "typ": "at+jwt", "kid": signer.kid()}),
        &body,
        &signer,
    );
    assert!(matches!(
        verifier(&ring, NOW).verify(&token),
        Err(AccessTokenError::InvalidClaims(_))
    ));
}

#[test]
fn a_verifier_needs_a_usable_key() {
    assert!(AccessTokenVerifier::new(&JwkSet::default(), ISS, AUD).is_err());
    assert!(AccessTokenVerifier::from_jwks_json(
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
        ISS,
        AUD
    )
    .is_err());
}

#[test]
fn no_signing_key_means_no_token() {
    assert!(matches!(
        KeyRing::default().sign_access_token(&claims()),
        Err(AccessTokenError::NoSigningKey)
    ));
}
