//! Software statements (RFC 7591 §2.3): signed JWTs whose claims are client metadata vouched for
//! by a trusted issuer. The claims take precedence over the same members in the request body.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::error::RegistrationError;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: i64 = 60;

/// An issuer whose software statements are accepted, with the key that verifies them.
#[derive(Clone)]
pub struct TrustedIssuer {
    /// The `iss` claim the statement must carry.
    pub issuer: String,
    /// The one algorithm this issuer signs with (no algorithm confusion).
    pub algorithm: Algorithm,
    /// The verification key.
    pub key: DecodingKey,
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Which software statements registration accepts.
#[derive(Debug, Clone, Default)]
pub struct SoftwareStatementPolicy {
    /// Issuers whose statements are accepted. Empty: every statement is unapproved.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Refuse registrations that carry no software statement.
    pub required: bool,
}

fn invalid(msg: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidSoftwareStatement(format!("software_statement: {}", msg.into()))
}

/// Verifies `statement` and returns its claims.
pub(crate) fn verify(
    statement: &str,
    policy: &SoftwareStatementPolicy,
    now: i64,
) -> Result<Map<String, Value>, RegistrationError> {
    // Read `iss` before verifying, only to choose the key; nothing else is trusted until verified.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(statement)
        .map_err(|_| invalid("not a signed JWT in compact serialization"))?;
    let Some(Value::String(iss)) = unverified.claims.get("iss") else {
        return Err(invalid("the JWT has no \"iss\" claim naming its issuer"));
    };
    let Some(trusted) = policy.trusted_issuers.iter().find(|t| &t.issuer == iss) else {
        return Err(RegistrationError::UnapprovedSoftwareStatement(format!(
            "software_statement: issuer {:?} is not trusted by this server",
            crate::values::truncate(iss, 100)
        )));
    };
    let mut validation = Validation::new(trusted.algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false; // checked below against the injected clock
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.set_issuer(&[&trusted.issuer]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(statement, &trusted.key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => invalid(format!(
                "signed with {:?}; issuer {:?} signs with {:?}",
                unverified.header.alg, trusted.issuer, trusted.algorithm
            )),
            _ => invalid("the signature does not verify with the issuer's key"),
        })?
        .claims;
    match claims.get("exp") {
        None => {}
        Some(Value::Number(n))
            if n.as_f64()
                .is_some_and(|exp| exp + (LEEWAY_SECS as f64) > now as f64) => {}
        Some(Value::Number(_)) => return Err(invalid("expired (\"exp\" is in the past)")),
        Some(_) => return Err(invalid("\"exp\" must be a number")),
    }
    match claims.get("nbf") {
        None => {}
        Some(Value::Number(n))
            if n.as_f64()
                .is_some_and(|nbf| nbf - (LEEWAY_SECS as f64) <= now as f64) => {}
        Some(_) => return Err(invalid("not valid yet (\"nbf\" is in the future)")),
    }
    Ok(claims)
}
