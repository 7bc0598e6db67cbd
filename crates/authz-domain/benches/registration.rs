//! Parsing and validating registration requests, and the full public-client registration use case
//! over the in-memory repository. Run with `make bench`.

use std::sync::Arc;

use authz_domain::client_registration::{
    ClientMetadata, InMemoryClientRepository, RegistrationPolicy, RegistrationService,
    RequestContext,
};
use authz_domain::clock::SystemClock;
use authz_domain::credentials::{
    Argon2Settings, CredentialIssuer, SecretHasher, SystemRandomSource,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{Map, Value};

fn fixtures() -> Map<String, Value> {
    match serde_json::from_str(include_str!("../tests/fixtures/real_clients.json")) {
        Ok(Value::Object(m)) => m,
        _ => panic!("fixture"),
    }
}

fn object(v: &Value) -> &Map<String, Value> {
    v.as_object().expect("object")
}

fn parse(c: &mut Criterion) {
    let clients = fixtures();
    let policy = RegistrationPolicy::default();
    let mut group = c.benchmark_group("parse_and_validate");
    group.throughput(Throughput::Elements(1));
    for name in ["cursor", "vscode", "claude_code"] {
        let raw = object(&clients[name]).clone();
        group.bench_function(name, |b| {
            b.iter(|| ClientMetadata::from_request_at(black_box(&raw), &policy, 1_750_000_000))
        });
    }
    // The same from bytes, as the HTTP layer receives it.
    let bytes = serde_json::to_vec(&clients["cursor"]).expect("bytes");
    group.bench_function("cursor_from_json_bytes", |b| {
        b.iter(|| {
            let raw: Map<String, Value> = serde_json::from_slice(black_box(&bytes)).expect("json");
            ClientMetadata::from_request_at(&raw, &policy, 1_750_000_000)
        })
    });
    group.finish();
}

fn register(c: &mut Criterion) {
    let clients = fixtures();
    let hasher = SecretHasher::new(Argon2Settings::default(), 1).expect("hasher");
    let issuer = CredentialIssuer::new(Arc::new(SystemRandomSource::new()), hasher.clone(), 32)
        .expect("issuer");
    let repo = Arc::new(InMemoryClientRepository::new());
    let service = RegistrationService::new(
        repo.clone(),
        repo,
        Arc::new(RegistrationPolicy::default()),
        issuer,
        Arc::new(SystemClock),
    );
    let public = object(&clients["claude_code"]).clone();
    let context = RequestContext::default();
    c.bench_function("register_public_client_in_memory", |b| {
        b.iter(|| {
            service
                .register(black_box(&public), &context)
                .expect("registered")
        })
    });
    let mut group = c.benchmark_group("argon2id_default_params");
    group.sample_size(20);
    let secret = secrecy::SecretString::from("a".repeat(43));
    let rng = SystemRandomSource::new();
    group.bench_function("hash_one_secret", |b| {
        b.iter(|| hasher.hash(&secret, &rng).expect("hash"))
    });
    group.finish();
}

criterion_group!(benches, parse, register);
criterion_main!(benches);
