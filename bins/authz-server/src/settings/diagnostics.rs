//! Configuration errors and warnings in the operator's words: the key, the value as written and
//! what is accepted, never a Rust type or enum name (`enum LogFormat does not have variant…`,
//! `expected an unsigned 32 bit integer`); and a warning for `AUTHZ_…` variables with single
//! underscores, which the settings never read.

use std::fmt;

use config::ConfigError;
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{LogFormat, SqliteSynchronousSetting};

/// The names and values of every enumerated setting type (a value outside them is refused with
/// the list). Add each new enum of a settings section here.
fn enumerations() -> Vec<(&'static str, &'static [&'static str])> {
    [
        variants::<LogFormat>(),
        variants::<SqliteSynchronousSetting>(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The message for a configuration that does not deserialize: `key = value: what is accepted`,
/// naming the environment variable or file the value came from when known.
pub(super) fn describe(error: &ConfigError) -> String {
    let (inner, key, origin) = match error {
        ConfigError::At { error, origin, key } => (error.as_ref(), key.clone(), origin.clone()),
        ConfigError::Type { origin, key, .. } => (error, key.clone(), origin.clone()),
        other => (other, None, None),
    };
    match inner {
        ConfigError::Type {
            unexpected,
            expected,
            ..
        } => {
            let key = key.unwrap_or_else(|| "?".into());
            format!(
                "{key} = {}{}: expected {}",
                shown(unexpected),
                from(&key, origin.as_deref()),
                plain_expected(expected)
            )
        }
        ConfigError::Message(message) => describe_message(message, key.as_deref(), origin),
        other => other.to_string(),
    }
}

fn describe_message(message: &str, key: Option<&str>, origin: Option<String>) -> String {
    let at = key.unwrap_or("");
    if let Some(rest) = message.strip_prefix("enum ") {
        // "enum LogFormat does not have variant constructor xml"
        if let Some((name, value)) = rest.split_once(" does not have variant constructor ") {
            return format!(
                "{at} = {value:?}{}: {}",
                from(at, origin.as_deref()),
                accepted(name)
            );
        }
    }
    if let Some(name) = message
        .strip_prefix("value of enum ")
        .and_then(|r| r.split_once(' '))
        .map(|(n, _)| n)
    {
        return format!(
            "{at}{}: a word is expected; {}",
            from(at, origin.as_deref()),
            accepted(name)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        // "unknown field `bindx`, expected one of `bind`, `workers`"
        let words = backticked(rest);
        if let Some((field, known)) = words.split_first() {
            let (full, what, place) = if at.is_empty() {
                (
                    (*field).to_owned(),
                    "section",
                    "the sections are".to_owned(),
                )
            } else {
                (
                    format!("{at}.{field}"),
                    "key",
                    format!("the keys of [{at}] are"),
                )
            };
            return format!(
                "unknown {what} {full}{}: {place} {} (docs/configuration.md)",
                from(&full, origin.as_deref()),
                known.join(", ")
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((value, expected)) = rest.split_once(", expected ") {
            let value = backticked(value)
                .first()
                .map_or(value.to_owned(), |v| (*v).to_owned());
            return format!(
                "{at} = {value}{}: expected {}",
                from(at, origin.as_deref()),
                plain_expected(expected)
            );
        }
    }
    if at.is_empty() {
        message.to_owned()
    } else {
        format!("{at}{}: {message}", from(at, origin.as_deref()))
    }
}

/// ` (environment variable AUTHZ__SERVER__BIND)` or ` (in config/production.toml)`.
fn from(key: &str, origin: Option<&str>) -> String {
    let variable = env_name(key);
    match origin {
        Some("the environment") => format!(" (environment variable {variable})"),
        Some(file) if !file.is_empty() => format!(" (in {file})"),
        _ if key.is_empty() => String::new(),
        _ => {
            // An unknown section or key arrives without its origin: name the variable if one
            // set it (for a section, any AUTHZ__SECTION__… variable).
            let nested = format!("{variable}__");
            let mut names: Vec<String> = std::env::vars()
                .map(|(name, _)| name)
                .filter(|name| *name == variable || name.starts_with(&nested))
                .collect();
            names.sort();
            match names.as_slice() {
                [] => String::new(),
                [one] => format!(" (environment variable {one})"),
                many => format!(" (environment variables {})", many.join(", ")),
            }
        }
    }
}

/// The environment variable of a dotted key: `server.bind` → `AUTHZ__SERVER__BIND`.
fn env_name(key: &str) -> String {
    format!("AUTHZ__{}", key.replace('.', "__").to_uppercase())
}

/// The value as written, from the config crate's description of it (`string "abc"`,
/// ``64-bit integer `-1` ``); its `Unexpected` type is not public.
fn shown(unexpected: &impl fmt::Display) -> String {
    let described = unexpected.to_string();
    if let Some(quoted) = described.strip_prefix("string ") {
        return quoted.to_owned();
    }
    match backticked(&described).first() {
        Some(value) => (*value).to_owned(),
        None => described,
    }
}

/// What serde or the config crate expected, said without Rust type names.
fn plain_expected(expected: &str) -> String {
    let bounds = |bits: u32| format!("a whole number from 0 to {}", (1u128 << bits) - 1);
    match expected {
        "u8" | "an unsigned 8 bit integer" => bounds(8),
        "u16" | "an unsigned 16 bit integer" => bounds(16),
        "u32" | "an unsigned 32 bit integer" => bounds(32),
        "u64" | "usize" | "an unsigned 64 bit integer" => bounds(64),
        // Said of a negative number whatever the key's own bound.
        "an unsigned 64 bit or less integer" => "a whole number, 0 or more".into(),
        "an integer" | "i64" | "i32" => "a whole number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a float" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        other => other.to_owned(),
    }
}

fn accepted(enum_name: &str) -> String {
    match enumerations()
        .into_iter()
        .find(|(name, _)| *name == enum_name)
    {
        Some((_, values)) => format!("accepted values: {}", values.join(", ")),
        None => "see docs/configuration.md for the accepted values".into(),
    }
}

fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// Warnings for environment variables that look like settings but are ignored: `AUTHZ_` with a
/// single underscore (`AUTHZ_SERVER_BIND`) instead of `AUTHZ__SERVER__BIND`. `AUTHZ_ENV` is the
/// one variable with a single underscore. `settings` is the loaded configuration as JSON (its
/// keys are the known keys).
pub fn environment_warnings(
    settings: &serde_json::Value,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<String> {
    let mut keys = Vec::new();
    collect_keys(settings, "", &mut keys);
    let sections: Vec<String> = settings
        .as_object()
        .map(|o| o.keys().map(|k| k.to_uppercase()).collect())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    for (name, _) in vars {
        let Some(rest) = name.strip_prefix("AUTHZ_") else {
            continue;
        };
        if rest.starts_with('_') || rest == "ENV" {
            continue;
        }
        let mapped = keys
            .iter()
            .find(|k| k.replace('.', "_").to_uppercase() == rest);
        if let Some(key) = mapped {
            warnings.push(format!(
                "{name} is ignored: settings take double underscores between AUTHZ, the section \
                 and the key; did you mean {}?",
                env_name(key)
            ));
        } else if sections.iter().any(|s| rest.starts_with(&format!("{s}_"))) {
            warnings.push(format!(
                "{name} is ignored: settings are named AUTHZ__SECTION__KEY, with double \
                 underscores (docs/configuration.md)"
            ));
        }
    }
    warnings.sort();
    warnings
}

fn collect_keys(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let Some(object) = value.as_object() {
        for (name, child) in object {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            collect_keys(child, &key, out);
            out.push(key);
        }
    }
}

/// The name and variant names of an enum `T`, read from its `Deserialize` implementation.
fn variants<'de, T: Deserialize<'de>>() -> Option<(&'static str, &'static [&'static str])> {
    match T::deserialize(Probe) {
        Err(ProbeError(Some(found))) => Some(found),
        _ => None,
    }
}

/// A deserializer that only answers what enum it was asked for.
struct Probe;

#[derive(Debug)]
struct ProbeError(Option<(&'static str, &'static [&'static str])>);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self(None)
    }
}

impl<'de> Deserializer<'de> for Probe {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError(None))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError(Some((name, variants))))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_and_values_are_read_from_the_types() {
        let all = enumerations();
        assert!(
            all.contains(&("LogFormat", &["json", "pretty"][..])),
            "{all:?}"
        );
        assert!(all.contains(&("SqliteSynchronousSetting", &["normal", "full"][..])));
    }

    #[test]
    fn expectations_are_said_without_rust_types() {
        assert_eq!(
            plain_expected("an unsigned 32 bit integer"),
            "a whole number from 0 to 4294967295"
        );
        assert_eq!(plain_expected("a boolean"), "true or false");
        assert_eq!(plain_expected("a string"), "a string");
    }

    #[test]
    fn single_underscore_variables_are_named_with_their_double_underscore_form() {
        let settings =
            serde_json::json!({"server": {"bind": "x", "workers": 0}, "database": {"url": "y"}});
        let warnings = environment_warnings(
            &settings,
            [
                ("AUTHZ_SERVER_BIND".to_owned(), "0.0.0.0:80".to_owned()),
                ("AUTHZ_DATABASE_NOPE".to_owned(), String::new()),
                ("AUTHZ_ENV".to_owned(), "production".to_owned()),
                ("AUTHZ__SERVER__BIND".to_owned(), String::new()),
                ("AUTHZ_UNRELATED".to_owned(), String::new()),
            ],
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("AUTHZ_DATABASE_NOPE is ignored"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("AUTHZ_SERVER_BIND is ignored")
                && warnings[1].ends_with("did you mean AUTHZ__SERVER__BIND?"),
            "{warnings:?}"
        );
    }
}
