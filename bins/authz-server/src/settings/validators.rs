//! Custom `garde` validators shared by the sections: each error says what is expected.

use std::net::SocketAddr;

use authz_domain::clients::JwtAlgorithm;
use authz_domain::values::{GrantType, Scope, TokenEndpointAuthMethod};

pub(super) fn socket_addr(value: &str, _: &()) -> garde::Result {
    value.parse::<SocketAddr>().map(|_| ()).map_err(|_| {
        garde::Error::new(
            "expected host:port with an IP address, such as 127.0.0.1:8080 or [::]:8080",
        )
    })
}

pub(super) fn base_url(value: &str, _: &()) -> garde::Result {
    let url = url::Url::parse(value).map_err(|e| {
        garde::Error::new(format!(
            "not an absolute URL ({e}); expected such as https://auth.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(garde::Error::new(
            "expected an http or https URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(garde::Error::new(
            "an issuer URL has no query or fragment (RFC 8414 §2)",
        ));
    }
    // The issuer is published in metadata and in every token: credentials in it would be too.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(garde::Error::new(
            "an issuer URL has no user information (user:password@); expected such as https://auth.example.com",
        ));
    }
    Ok(())
}

pub(super) fn optional_url(value: &str, ctx: &()) -> garde::Result {
    if value.is_empty() {
        Ok(())
    } else {
        base_url(value, ctx)
    }
}

pub(super) fn database_url(value: &str, _: &()) -> garde::Result {
    if let Some(rest) = value
        .strip_prefix("postgres://")
        .or_else(|| value.strip_prefix("postgresql://"))
    {
        return postgres_userinfo(rest);
    }
    match value.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => Ok(()),
        _ => Err(garde::Error::new(
            "expected sqlite://PATH (such as sqlite://data/authz.sqlite3) or postgres://USER:PASSWORD@HOST/DB",
        )),
    }
}

/// A user or password with a reserved character left as is (`p@ss/word#1`) changes what the URL
/// means: libpq then reads part of the password as a host or port, and its error message would
/// show it. Refused before connecting, without quoting the password.
fn postgres_userinfo(rest: &str) -> garde::Result {
    let Some(at) = rest.rfind('@') else {
        return Ok(());
    };
    let userinfo = &rest[..at];
    let bad_escape = userinfo
        .split('%')
        .skip(1)
        .any(|after| after.len() < 2 || !after.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if bad_escape
        || userinfo.matches(':').count() > 1
        || userinfo.contains(['@', '/', '?', '#', '[', ']', ' '])
    {
        return Err(garde::Error::new(
            "the user or password holds characters that must be percent-encoded in a URL \
             (@ : / ? # [ ] % and spaces): write each as %XX, such as @ as %40 and # as %23 \
             (docs/operations.md#production shows how)",
        ));
    }
    Ok(())
}

pub(super) fn grant_type(value: &str, _: &()) -> garde::Result {
    GrantType::from_wire(value).map(|_| ()).ok_or_else(|| {
        garde::Error::new("expected authorization_code, refresh_token or client_credentials")
    })
}

pub(super) fn auth_method(value: &str, _: &()) -> garde::Result {
    TokenEndpointAuthMethod::from_wire(value)
        .map(|_| ())
        .ok_or_else(|| {
            garde::Error::new("expected none, client_secret_basic or client_secret_post")
        })
}

pub(super) fn scope_string(value: &str, _: &()) -> garde::Result {
    Scope::parse(value).map(|_| ()).map_err(garde::Error::new)
}

pub(super) fn scope_token(value: &str, _: &()) -> garde::Result {
    match Scope::parse(value) {
        Ok(Some(s)) if s.as_str() == value => Ok(()),
        _ => Err(garde::Error::new(
            "expected one scope token (printable ASCII, no spaces, '\"' or '\\')",
        )),
    }
}

pub(super) fn jwt_algorithm(value: &str, _: &()) -> garde::Result {
    value.parse::<JwtAlgorithm>().map(|_| ()).map_err(|_| {
        garde::Error::new("expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384 or HS512")
    })
}

pub(super) fn log_filter(value: &str, _: &()) -> garde::Result {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| ())
        .map_err(|e| garde::Error::new(format!("not a tracing filter ({e}); expected such as \"info\" or \"info,authz_http=debug\"")))
}

pub(super) fn trusted_proxies(value: &[String], _: &()) -> garde::Result {
    authz_http::client_ip::TrustedProxies::parse(value)
        .map(|_| ())
        .map_err(garde::Error::new)
}
