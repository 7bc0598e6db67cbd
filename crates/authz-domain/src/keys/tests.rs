use std::sync::{Arc, OnceLock};

use secrecy::ExposeSecret;

use super::*;
use crate::client_registration::{AuditAction, InMemoryClientRepository};
use crate::clock::{Clock, ManualClock};
use crate::credentials::{RandomSource, SystemRandomSource};

const NOW: i64 = 1_700_000_000;

fn rng() -> SystemRandomSource {
    SystemRandomSource::new()
}

fn kek() -> KeyEncryptionKey {
    KeyEncryptionKey::generate(&rng()).expect("kek")
}

/// RSA generation is slow unoptimised: one key for every test that needs one.
fn rsa_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::RS256, &rng()).expect("rsa key"))
        .clone()
}

fn key(algorithm: SigningAlgorithm) -> SigningKey {
    match algorithm {
        SigningAlgorithm::RS256 => rsa_key(),
        other => SigningKey::generate(other, &rng()).expect("key"),
    }
}

struct Fixture {
    repo: Arc<InMemorySigningKeyRepository>,
    audit: Arc<InMemoryClientRepository>,
    clock: Arc<ManualClock>,
    kek: KeyEncryptionKey,
    service: KeyService,
}

fn fixture(policy: KeyPolicy) -> Fixture {
    let repo = Arc::new(InMemorySigningKeyRepository::new());
    let audit = Arc::new(InMemoryClientRepository::new());
    let clock = Arc::new(ManualClock::new(NOW));
    let kek = kek();
    let service = KeyService::new(
        repo.clone(),
        audit.clone(),
        clock.clone(),
        Arc::new(rng()),
        kek.clone(),
        policy,
    );
    Fixture {
        repo,
        audit,
        clock,
        kek,
        service,
    }
}

fn actions(audit: &InMemoryClientRepository) -> Vec<AuditAction> {
    audit.audit_events().iter().map(|e| e.action).collect()
}

// --- algorithms -------------------------------------------------------------------------------

#[test]
fn algorithms_parse_their_jose_names_and_nothing_else() {
    for a in SigningAlgorithm::ALL {
        assert_eq!(SigningAlgorithm::parse(a.as_str()).expect("parse"), *a);
        assert_eq!(a.to_string(), a.as_str());
    }
    assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::ES256);
    for bad in ["none", "HS256", "es256", "PS256", ""] {
        assert!(matches!(
            SigningAlgorithm::parse(bad),
            Err(KeyError::UnsupportedAlgorithm(_))
        ));
    }
}

// --- generation and JWKs ----------------------------------------------------------------------

#[test]
fn generated_keys_have_the_public_members_of_their_type() {
    let es = key(SigningAlgorithm::ES256);
    let jwk = es.public_jwk();
    assert_eq!(
        (jwk.kty.as_str(), jwk.crv.as_deref()),
        ("EC", Some("P-256"))
    );
    assert_eq!(jwk.x.as_deref().map(str::len), Some(43));
    assert_eq!(jwk.y.as_deref().map(str::len), Some(43));

    let ed = key(SigningAlgorithm::EdDSA);
    let jwk = ed.public_jwk();
    assert_eq!(
        (jwk.kty.as_str(), jwk.crv.as_deref()),
        ("OKP", Some("Ed25519"))
    );
    assert!(jwk.y.is_none());

    let rs = key(SigningAlgorithm::RS256);
    let jwk = rs.public_jwk();
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    assert_eq!(jwk.n.as_deref().map(str::len), Some(342)); // 2048 bits

    for k in [&es, &ed, &rs] {
        let jwk = k.public_jwk();
        assert_eq!(jwk.alg.as_deref(), Some(k.algorithm().as_str()));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        assert_eq!(jwk.kid.as_deref(), Some(k.kid()));
        assert_eq!(jwk.algorithm(), Some(k.algorithm()));
    }
}

#[test]
fn the_kid_is_the_rfc7638_thumbprint() {
    // RFC 7638 §3.1's example key and thumbprint.
    let jwk = PublicJwk::from_json(
        r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",
        "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#,
    )
    .expect("jwk");
    assert_eq!(
        jwk.thumbprint().expect("thumbprint"),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    let es = key(SigningAlgorithm::ES256);
    let mut stripped = es.public_jwk().clone();
    stripped.kid = None;
    stripped.alg = None;
    stripped.use_ = None;
    assert_eq!(stripped.thumbprint().expect("thumbprint"), es.kid());
}

#[test]
fn two_generated_keys_never_share_a_kid() {
    for a in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        assert_ne!(key(a).kid(), key(a).kid());
    }
}

#[test]
fn eddsa_keys_come_from_the_injected_random_source() {
    #[derive(Debug)]
    struct Fixed;
    impl RandomSource for Fixed {
        fn fill(&self, dest: &mut [u8]) -> Result<(), crate::credentials::CredentialError> {
            dest.fill(7);
            Ok(())
        }
    }
    let a = SigningKey::generate(SigningAlgorithm::EdDSA, &Fixed).expect("key");
    let b = SigningKey::generate(SigningAlgorithm::EdDSA, &Fixed).expect("key");
    assert_eq!(a.kid(), b.kid());
}

#[test]
fn a_failing_random_source_generates_no_key() {
    #[derive(Debug)]
    struct Broken;
    impl RandomSource for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), crate::credentials::CredentialError> {
            Err(crate::credentials::CredentialError::Random)
        }
    }
    assert!(matches!(
        SigningKey::generate(SigningAlgorithm::EdDSA, &Broken),
        Err(KeyError::Random)
    ));
    assert!(matches!(
        KeyEncryptionKey::generate(&Broken),
        Err(KeyError::Random)
    ));
}

#[test]
fn the_jwk_set_has_no_private_member() {
    let ring = KeyRing::load(
        &[
            SigningKeyRecord::seal(
                &key(SigningAlgorithm::ES256),
                &kek_fixed(),
                &rng(),
                NOW,
                NOW,
            )
            .expect("seal"),
            SigningKeyRecord::seal(
                &key(SigningAlgorithm::EdDSA),
                &kek_fixed(),
                &rng(),
                NOW,
                NOW,
            )
            .expect("seal"),
            SigningKeyRecord::seal(
                &key(SigningAlgorithm::RS256),
                &kek_fixed(),
                &rng(),
                NOW,
                NOW,
            )
            .expect("seal"),
        ],
        &kek_fixed(),
    )
    .expect("ring");
    let json: serde_json::Value = serde_json::from_str(&ring.jwk_set(NOW).to_json()).expect("json");
    let keys = json["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 3);
    for k in keys {
        let members: Vec<&str> = k
            .as_object()
            .expect("object")
            .keys()
            .map(|s| s.as_str())
            .collect();
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(!members.contains(&private), "{private} in {k}");
        }
        assert_eq!(k["use"], "sig");
    }
}

fn kek_fixed() -> KeyEncryptionKey {
    KeyEncryptionKey::from_bytes(vec![42; 32]).expect("kek")
}

#[test]
fn a_jwk_read_back_drops_private_members() {
    let jwk = PublicJwk::from_json(
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
    )
    .expect("jwk");
    assert!(!jwk.to_json().contains("nWGxne"));
    // RFC 8037 §A.3's thumbprint of that key.
    assert_eq!(
        jwk.thumbprint().expect("thumbprint"),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn imported_pkcs8_pem_keys_sign_and_keep_their_kid() {
    use base64::Engine as _;
    let rs = key(SigningAlgorithm::RS256);
    let b64 = base64::engine::general_purpose::STANDARD.encode(rs.pkcs8_der());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    let imported = SigningKey::from_pkcs8_pem(SigningAlgorithm::RS256, &pem).expect("import");
    assert_eq!(imported.kid(), rs.kid());
    assert!(matches!(
        SigningKey::from_pkcs8_pem(SigningAlgorithm::ES256, &pem),
        Err(KeyError::InvalidPrivateKey(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_pem(SigningAlgorithm::RS256, "-----BEGIN RSA PRIVATE KEY-----"),
        Err(KeyError::InvalidPrivateKey(_))
    ));
}

#[test]
fn debug_output_shows_no_key_material() {
    let k = key(SigningAlgorithm::EdDSA);
    let shown = format!("{k:?}");
    assert!(shown.contains(k.kid()));
    assert!(shown.len() < 120);
    let kek = kek();
    assert_eq!(format!("{kek:?}"), "KeyEncryptionKey([REDACTED])");
    assert!(!format!("{kek:?}").contains(kek.to_base64url().expose_secret()));
}

// --- encryption at rest -----------------------------------------------------------------------

#[test]
fn the_kek_parses_base64_and_base64url_and_only_32_bytes() {
    let raw: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(250))
        .collect();
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    let a = KeyEncryptionKey::parse(&STANDARD.encode(&raw)).expect("base64");
    let b =
        KeyEncryptionKey::parse(&format!(" {}\n", URL_SAFE_NO_PAD.encode(&raw))).expect("b64url");
    assert_eq!(
        a.to_base64url().expose_secret(),
        b.to_base64url().expose_secret()
    );
    assert!(matches!(
        KeyEncryptionKey::parse(&STANDARD.encode([0u8; 16])),
        Err(KeyError::InvalidKek(_))
    ));
    assert!(matches!(
        KeyEncryptionKey::parse("not base64!"),
        Err(KeyError::InvalidKek(_))
    ));
}

#[test]
fn a_private_key_round_trips_through_encryption() {
    let kek = kek();
    let k = key(SigningAlgorithm::ES256);
    let record = SigningKeyRecord::seal(&k, &kek, &rng(), NOW, NOW).expect("seal");
    let bytes = record.encrypted_private_key.as_bytes();
    assert_eq!(bytes[0], 1);
    assert_eq!(bytes.len(), 1 + 12 + k.pkcs8_der().len() + 16);
    let opened = record.open(&kek).expect("open");
    assert_eq!(opened.kid(), k.kid());
    assert_eq!(opened.pkcs8_der(), k.pkcs8_der());
}

#[test]
fn each_encryption_uses_a_fresh_nonce() {
    let kek = kek();
    let k = key(SigningAlgorithm::EdDSA);
    let a = kek.encrypt(k.kid(), k.pkcs8_der(), &rng()).expect("a");
    let b = kek.encrypt(k.kid(), k.pkcs8_der(), &rng()).expect("b");
    assert_ne!(a.as_bytes()[1..13], b.as_bytes()[1..13]);
    assert_ne!(a, b);
}

#[test]
fn a_wrong_kek_is_a_clear_decryption_error() {
    let k = key(SigningAlgorithm::ES256);
    let record = SigningKeyRecord::seal(&k, &kek(), &rng(), NOW, NOW).expect("seal");
    let err = record.open(&kek()).expect_err("another kek");
    assert!(matches!(&err, KeyError::Decryption { kid } if kid == k.kid()));
    assert!(err.to_string().contains("wrong key-encryption key"));
    assert!(matches!(
        KeyRing::load(&[record], &kek()),
        Err(KeyError::Decryption { .. })
    ));
}

#[test]
fn a_tampered_ciphertext_does_not_decrypt() {
    let kek = kek();
    let k = key(SigningAlgorithm::ES256);
    let record = SigningKeyRecord::seal(&k, &kek, &rng(), NOW, NOW).expect("seal");
    let mut bytes = record.encrypted_private_key.clone().into_bytes();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    let tampered = EncryptedPrivateKey::from_bytes(bytes).expect("layout");
    assert!(matches!(
        kek.decrypt(k.kid(), &tampered),
        Err(KeyError::Decryption { .. })
    ));
}

#[test]
fn a_ciphertext_moved_to_another_kid_does_not_decrypt() {
    let kek = kek();
    let k = key(SigningAlgorithm::ES256);
    let other = key(SigningAlgorithm::ES256);
    let mut record = SigningKeyRecord::seal(&k, &kek, &rng(), NOW, NOW).expect("seal");
    record.kid = other.kid().to_owned();
    assert!(matches!(
        record.open(&kek),
        Err(KeyError::Decryption { .. })
    ));
}

#[test]
fn malformed_ciphertexts_are_refused_before_decryption() {
    assert!(matches!(
        EncryptedPrivateKey::from_bytes(vec![1; 28]),
        Err(KeyError::MalformedCiphertext(_))
    ));
    assert!(matches!(
        EncryptedPrivateKey::from_bytes(vec![2; 64]),
        Err(KeyError::MalformedCiphertext(_))
    ));
    assert!(EncryptedPrivateKey::from_bytes(vec![1; 29]).is_ok());
}

// --- lifecycle ------------------------------------------------------------------------------

#[test]
fn the_first_key_signs_at_once() {
    let f = fixture(KeyPolicy::default());
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    assert_eq!(first.activates_at, NOW);
    assert_eq!(first.algorithm, SigningAlgorithm::ES256);
    let ring = f.service.load_ring().expect("ring");
    assert_eq!(ring.signing_key(NOW).expect("signer").kid(), first.kid);
    assert_eq!(actions(&f.audit), vec![AuditAction::SigningKeyCreated]);
    assert_eq!(f.audit.audit_events()[0].actor, SYSTEM_ACTOR);
}

#[test]
fn ensure_initial_key_creates_nothing_when_keys_exist() {
    let f = fixture(KeyPolicy::default());
    f.service.ensure_initial_key().expect("first");
    assert!(f.service.ensure_initial_key().expect("second").is_none());
    assert_eq!(f.repo.list().expect("list").len(), 1);
}

#[test]
fn ensure_initial_key_with_the_wrong_kek_stops_at_start() {
    let f = fixture(KeyPolicy::default());
    f.service.ensure_initial_key().expect("first");
    let other = KeyService::new(
        f.repo.clone(),
        f.audit.clone(),
        f.clock.clone(),
        Arc::new(rng()),
        kek(),
        KeyPolicy::default(),
    );
    assert!(matches!(
        other.ensure_initial_key(),
        Err(KeyError::Decryption { .. })
    ));
}

#[test]
fn the_policy_algorithm_chooses_the_first_key() {
    let f = fixture(KeyPolicy {
        algorithm: SigningAlgorithm::EdDSA,
        ..KeyPolicy::default()
    });
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    assert_eq!(first.algorithm, SigningAlgorithm::EdDSA);
    assert!(first.public_jwk.contains("\"crv\":\"Ed25519\""));
}

#[test]
fn a_rotated_in_key_is_published_at_once_but_signs_only_after_publish_ahead() {
    let f = fixture(KeyPolicy {
        publish_ahead_secs: 600,
        ..KeyPolicy::default()
    });
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    f.clock.advance(100);
    let next = f.service.rotate(None, "admin:ops").expect("rotate");
    assert_eq!(next.activates_at, NOW + 100 + 600);

    let ring = f.service.load_ring().expect("ring");
    let now = f.clock.now();
    assert_eq!(ring.signing_key(now).expect("signer").kid(), first.kid);
    let published: Vec<_> = ring
        .jwk_set(now)
        .keys
        .iter()
        .filter_map(|k| k.kid.clone())
        .collect();
    assert_eq!(published, vec![next.kid.clone(), first.kid.clone()]);

    assert_eq!(
        ring.signing_key(next.activates_at - 1)
            .expect("signer")
            .kid(),
        first.kid
    );
    assert_eq!(
        ring.signing_key(next.activates_at).expect("signer").kid(),
        next.kid
    );
    assert_eq!(
        actions(&f.audit),
        vec![
            AuditAction::SigningKeyCreated,
            AuditAction::SigningKeyCreated,
            AuditAction::SigningKeyRetired,
            AuditAction::SigningKeyRotated,
        ]
    );
    assert!(f.audit.audit_events()[3].actor == "admin:ops");
}

#[test]
fn rotation_schedules_the_old_key_to_leave_once_its_tokens_expired() {
    let policy = KeyPolicy {
        publish_ahead_secs: 600,
        max_access_token_lifetime_secs: 3600,
        clock_leeway_secs: 60,
        ..KeyPolicy::default()
    };
    let f = fixture(policy);
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    let next = f.service.rotate(None, "admin:ops").expect("rotate");
    let old = f
        .service
        .list()
        .expect("list")
        .into_iter()
        .find(|r| r.kid == first.kid)
        .expect("old key");
    assert_eq!(old.retired_at, Some(next.activates_at));
    assert_eq!(old.remove_after, Some(next.activates_at + 3600 + 60));
}

#[test]
fn a_retired_key_stays_published_until_remove_after_then_is_gone() {
    let policy = KeyPolicy {
        publish_ahead_secs: 0,
        max_access_token_lifetime_secs: 3600,
        clock_leeway_secs: 60,
        ..KeyPolicy::default()
    };
    let f = fixture(policy);
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    f.clock.advance(10);
    let next = f.service.rotate(None, "admin:ops").expect("rotate");
    f.clock.advance(10);
    let now = f.clock.now();
    let ring = f.service.load_ring().expect("ring");
    assert_eq!(ring.signing_key(now).expect("signer").kid(), next.kid);

    let retired = f
        .service
        .list()
        .expect("list")
        .into_iter()
        .find(|r| r.kid == first.kid)
        .expect("old");
    let remove_after = retired.remove_after.expect("scheduled");
    assert_eq!(remove_after, NOW + 10 + 3600 + 60);
    assert!(ring.jwk_set(remove_after - 1).find(&first.kid).is_some());
    assert!(ring.jwk_set(remove_after).find(&first.kid).is_none());
    assert!(ring.jwk_set(remove_after).find(&next.kid).is_some());
}

#[test]
fn retiring_sets_retired_at_now_and_remove_after_past_the_longest_token() {
    let policy = KeyPolicy {
        publish_ahead_secs: 0,
        max_access_token_lifetime_secs: 900,
        clock_leeway_secs: 30,
        ..KeyPolicy::default()
    };
    let f = fixture(policy);
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    // A second current key, made outside rotation so that the first is still current.
    let extra = SigningKeyRecord::seal(&key(SigningAlgorithm::EdDSA), &f.kek, &rng(), NOW, NOW)
        .expect("seal");
    f.repo.insert(&extra).expect("insert");
    f.clock.advance(5);
    let retired = f.service.retire(&first.kid, "admin:ops").expect("retire");
    assert_eq!(retired.retired_at, Some(NOW + 5));
    assert_eq!(retired.remove_after, Some(NOW + 5 + 900 + 30));
    let ring = f.service.load_ring().expect("ring");
    assert_eq!(ring.signing_key(NOW + 5).expect("signer").kid(), extra.kid);
    assert!(ring.jwk_set(NOW + 5).find(&first.kid).is_some());
    assert_eq!(
        actions(&f.audit).last(),
        Some(&AuditAction::SigningKeyRetired)
    );
}

#[test]
fn the_only_key_that_signs_cannot_be_retired() {
    let f = fixture(KeyPolicy::default());
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    assert!(matches!(
        f.service.retire(&first.kid, "admin:ops"),
        Err(KeyError::LastSigningKey(_))
    ));
    // A rotated-in key that is not active yet does not count.
    f.service.rotate(None, "admin:ops").expect("rotate");
    assert!(matches!(
        f.service.retire(&first.kid, "admin:ops"),
        Err(KeyError::LastSigningKey(_))
    ));
}

#[test]
fn retiring_an_unknown_or_retired_key_is_refused() {
    let f = fixture(KeyPolicy {
        publish_ahead_secs: 0,
        ..KeyPolicy::default()
    });
    let first = f
        .service
        .ensure_initial_key()
        .expect("ensure")
        .expect("created");
    f.service.rotate(None, "admin:ops").expect("rotate");
    assert!(matches!(
        f.service.retire("nope", "admin:ops"),
        Err(KeyError::UnknownKey(_))
    ));
    assert!(matches!(
        f.service.retire(&first.kid, "admin:ops"),
        Err(KeyError::AlreadyRetired(_))
    ));
}

#[test]
fn a_ring_without_an_active_key_signs_nothing() {
    assert!(KeyRing::default().signing_key(NOW).is_none());
    let record = SigningKeyRecord::seal(
        &key(SigningAlgorithm::ES256),
        &kek_fixed(),
        &rng(),
        NOW,
        NOW + 60,
    )
    .expect("seal");
    let ring = KeyRing::load(&[record], &kek_fixed()).expect("ring");
    assert!(ring.signing_key(NOW).is_none());
    assert_eq!(ring.jwk_set(NOW).keys.len(), 1);
}

#[test]
fn the_newest_active_key_signs() {
    let kek = kek_fixed();
    let older = SigningKeyRecord::seal(&key(SigningAlgorithm::ES256), &kek, &rng(), NOW, NOW)
        .expect("seal");
    let newer = SigningKeyRecord::seal(
        &key(SigningAlgorithm::EdDSA),
        &kek,
        &rng(),
        NOW + 1,
        NOW + 10,
    )
    .expect("seal");
    let ring = KeyRing::load(&[newer.clone(), older.clone()], &kek).expect("ring");
    assert_eq!(ring.signing_key(NOW + 9).expect("signer").kid(), older.kid);
    assert_eq!(ring.signing_key(NOW + 10).expect("signer").kid(), newer.kid);
    assert_eq!(ring.len(), 2);
}

#[test]
fn a_record_whose_kid_does_not_match_its_key_is_refused() {
    let kek = kek_fixed();
    let k = key(SigningAlgorithm::ES256);
    let other = key(SigningAlgorithm::ES256);
    // Encrypted for the other kid, so it decrypts, but the key inside is not that kid.
    let record = SigningKeyRecord {
        kid: other.kid().to_owned(),
        encrypted_private_key: kek
            .encrypt(other.kid(), k.pkcs8_der(), &rng())
            .expect("enc"),
        ..SigningKeyRecord::seal(&k, &kek, &rng(), NOW, NOW).expect("seal")
    };
    assert!(matches!(
        record.open(&kek),
        Err(KeyError::InvalidRecord { .. })
    ));
}
