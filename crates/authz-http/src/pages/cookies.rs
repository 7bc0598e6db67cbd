//! The pages' cookies: the session (the domain's [`SessionId`]) and the pre-sign-in value that
//! the sign-in form's CSRF token is bound to. Both `HttpOnly; SameSite=Lax; Path=/`, plus
//! `Secure` and the `__Host-` prefix when the issuer is `https`.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use authz_domain::users::SessionId;

use super::PagesSettings;

/// The session cookie's name without the `__Host-` prefix.
pub(crate) const SESSION: &str = "authz_session";
/// The pre-sign-in cookie's name without the `__Host-` prefix.
pub(crate) const PRE_SIGN_IN: &str = "authz_signin";

/// The cookie's name: `__Host-NAME` with secure cookies, else `NAME`.
pub(crate) fn name(base: &str, settings: &PagesSettings) -> String {
    if settings.secure_cookies {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The value of cookie `base` the browser sent, as a [`SessionId`] (an unknown value just finds
/// nothing). An empty value counts as none.
pub(crate) fn read(req: &HttpRequest, base: &str, settings: &PagesSettings) -> Option<SessionId> {
    req.cookie(&name(base, settings))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| SessionId::from_cookie(&v))
}

/// A cookie `base` holding `id` for `max_age_secs`.
pub(crate) fn set(
    base: &str,
    id: &SessionId,
    max_age_secs: i64,
    settings: &PagesSettings,
) -> Cookie<'static> {
    Cookie::build(name(base, settings), id.cookie_value().to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies)
        .max_age(Duration::seconds(max_age_secs.max(1)))
        .finish()
}

/// The `Set-Cookie` that deletes cookie `base`.
pub(crate) fn clear(base: &str, settings: &PagesSettings) -> Cookie<'static> {
    let mut cookie = Cookie::build(name(base, settings), "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies)
        .finish();
    cookie.make_removal();
    cookie
}
