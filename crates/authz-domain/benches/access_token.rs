//! Signing an RFC 9068 access token with each algorithm, and verifying one. Run with
//! `cargo bench -p authz-domain --bench access_token`.

use authz_domain::credentials::SystemRandomSource;
use authz_domain::keys::{KeyRing, SigningAlgorithm, SigningKey};
use authz_domain::token::{AccessTokenClaims, AccessTokenVerifier};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://mcp.example.com";

fn claims() -> AccessTokenClaims {
    let now = 1_700_000_000;
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "user-42".into(),
        aud: vec![AUD.into()],
        client_id: "Yk3mBq0vX9cT2sLr8nWd4A".into(),
        scope: "files:read files:write".into(),
        iat: now,
        // Far ahead: the verifier reads the system clock.
        exp: i64::from(i32::MAX),
        jti: "5f0a6a1c-2f5e-4c1b-9f4a-2f5d0c8f1e77".into(),
        auth_time: Some(now),
        grant_id: None,
    }
}

fn ring(algorithm: SigningAlgorithm) -> KeyRing {
    KeyRing::single(SigningKey::generate(algorithm, &SystemRandomSource::new()).expect("key"))
}

fn sign(c: &mut Criterion) {
    let claims = claims();
    let mut group = c.benchmark_group("sign_access_token");
    for algorithm in SigningAlgorithm::ALL {
        let ring = ring(*algorithm);
        group.bench_function(algorithm.as_str(), |b| {
            b.iter(|| ring.sign_access_token(black_box(&claims)).expect("sign"))
        });
    }
    group.finish();
}

fn verify(c: &mut Criterion) {
    let ring = ring(SigningAlgorithm::default());
    let token = ring.sign_access_token(&claims()).expect("sign");
    let verifier = AccessTokenVerifier::new(&ring.jwk_set(0), ISS, AUD).expect("verifier");
    c.bench_function("verify_access_token/ES256", |b| {
        b.iter(|| verifier.verify(black_box(&token)).expect("verify"))
    });
}

criterion_group!(benches, sign, verify);
criterion_main!(benches);
