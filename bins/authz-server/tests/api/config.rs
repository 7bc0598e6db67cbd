//! Configuration loading in process (the binary's own tests cover environment variables).

use authz_server::settings::{Settings, Sources};

use crate::helpers::config_dir;

fn load(env: Option<&str>, overrides: &[(&str, &str)]) -> anyhow::Result<Settings> {
    Settings::load(&Sources {
        config_dir: Some(config_dir()),
        environment: env.map(String::from),
        use_env_vars: false,
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    })
}

#[test]
fn every_shipped_environment_loads() {
    for env in [None, Some("development"), Some("production"), Some("test")] {
        let settings = load(env, &[]).unwrap_or_else(|e| panic!("{env:?}: {e:#}"));
        settings.registration_policy().expect("policy");
    }
}

#[test]
fn the_contract_defaults_hold() {
    let s = load(None, &[]).expect("defaults");
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.server.public_base_url, "http://127.0.0.1:8080");
    assert_eq!(s.database.url, "sqlite://data/authz.sqlite3");
    assert_eq!(s.database.pool_size, 8);
    assert!(s.database.migrate_on_start);
    assert!(s.registration.enabled);
    assert_eq!(s.logging.level, "info");
    assert_eq!(
        serde_json::to_value(s.logging.format).expect("json"),
        "json"
    );
}

#[test]
fn an_unknown_environment_file_is_an_error() {
    let err = load(Some("staging"), &[]).expect_err("refused");
    assert!(format!("{err:#}").contains("staging.toml"), "{err:#}");
}

#[test]
fn inconsistent_policies_are_refused_at_start() {
    let err = load(
        None,
        &[("registration.allowed_grant_types", "authorization_code")],
    )
    .expect_err("refused");
    assert!(format!("{err:#}").contains("MCP profile"), "{err:#}");
    let err = load(
        None,
        &[
            ("registration.default_scope", "a"),
            ("registration.allowed_scopes", "b"),
        ],
    )
    .expect_err("refused");
    assert!(format!("{err:#}").contains("default_scope"), "{err:#}");
}

#[test]
fn trusted_issuers_need_usable_keys() {
    let err = load(
        None,
        &[
            (
                "registration.software_statement.trusted_issuers[0].issuer",
                "https://vendor.example",
            ),
            (
                "registration.software_statement.trusted_issuers[0].algorithm",
                "RS256",
            ),
            (
                "registration.software_statement.trusted_issuers[0].public_key_pem",
                "not pem",
            ),
        ],
    )
    .expect_err("refused");
    assert!(
        format!("{err:#}").contains("trusted_issuers[0].public_key_pem"),
        "{err:#}"
    );
}

#[test]
fn every_configuration_key_is_documented() {
    let docs = std::fs::read_to_string(config_dir().join("../docs/configuration.md"))
        .expect("docs/configuration.md");
    let defaults: toml::Table = std::fs::read_to_string(config_dir().join("default.toml"))
        .expect("default.toml")
        .parse()
        .expect("toml");
    let mut missing = Vec::new();
    fn walk(prefix: &str, table: &toml::Table, docs: &str, missing: &mut Vec<String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, docs, missing),
                _ => {
                    let env = format!("AUTHZ__{}", key.replace('.', "__").to_uppercase());
                    if !docs.contains(&format!("`{key}`")) || !docs.contains(&env) {
                        missing.push(key);
                    }
                }
            }
        }
    }
    walk("", &defaults, &docs, &mut missing);
    assert!(
        missing.is_empty(),
        "undocumented keys (name and env var): {missing:?}"
    );
}
