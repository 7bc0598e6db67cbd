//! The raw pairs of a query string or an `application/x-www-form-urlencoded` body, kept in order
//! with their duplicates so that a repeated parameter can be refused (contract §2).

use actix_web::HttpRequest;

/// Why a form body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormError {
    /// Not `application/x-www-form-urlencoded`.
    NotAForm,
    /// Not UTF-8 once percent-decoded.
    Encoding,
}

/// Name/value pairs as sent.
#[derive(Debug, Default)]
pub(crate) struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// Decodes `application/x-www-form-urlencoded` text (a query string or a form body).
    /// `None` when a name or value is not UTF-8 once percent-decoded: replacing the bytes would
    /// hand the client back a different `state` or mint a token for a different `resource`.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        crate::form::parse(bytes).ok().map(Self)
    }

    /// The body of a form POST.
    pub(crate) fn from_form(req: &HttpRequest, body: &[u8]) -> Result<Self, FormError> {
        if crate::http_semantics::media_type_is(req, "application", "x-www-form-urlencoded")
            .is_err()
        {
            return Err(FormError::NotAForm);
        }
        Self::parse(body).ok_or(FormError::Encoding)
    }

    /// The value of field `name`: `Ok(None)` when absent or empty, `Err(name)` when it appears
    /// more than once.
    pub(crate) fn one<'a>(&'a self, name: &'static str) -> Result<Option<&'a str>, &'static str> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(name);
        }
        Ok(first.map(String::as_str).filter(|v| !v.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_detected_and_empty_ones_are_absent() {
        assert!(
            Pairs::parse(b"state=a%FFb").is_none(),
            "invalid UTF-8 is refused, not replaced"
        );
        let pairs = Pairs::parse(b"a=1&b=&c=x%20y&a=2&d=%E2%80%AE").expect("valid");
        assert_eq!(pairs.one("a"), Err("a"));
        assert_eq!(pairs.one("b"), Ok(None));
        assert_eq!(pairs.one("c"), Ok(Some("x y")));
        assert_eq!(pairs.one("d"), Ok(Some("\u{202E}")));
        assert_eq!(pairs.one("e"), Ok(None));
    }
}
