//! How the sign-in page shows a throttled attempt ([`SignInError::Throttled`]): the same form,
//! a plain message with the wait, status `429` and `Retry-After`. The message is the same
//! whichever key (account or address) is throttled and whether the account exists.
//!
//! [`SignInError::Throttled`]: authz_domain::users::SignInError::Throttled

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// "Too many failed sign-ins. Try again in 2 minutes."
pub(crate) fn message(retry_after_secs: u64, locked: bool) -> String {
    let wait = if retry_after_secs < 120 {
        format!(
            "{retry_after_secs} second{}",
            if retry_after_secs == 1 { "" } else { "s" }
        )
    } else {
        format!("{} minutes", retry_after_secs.div_ceil(60))
    };
    if locked {
        format!("Too many failed sign-ins: signing in is paused for a while. Try again in {wait}.")
    } else {
        format!("Too many failed sign-ins. Wait {wait}, then try again.")
    }
}

/// `page` as a `429` with `Retry-After`.
pub(crate) fn too_many(mut page: HttpResponse, retry_after_secs: u64) -> HttpResponse {
    *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    page.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    page
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn the_wait_reads_naturally() {
        assert_eq!(
            message(1, false),
            "Too many failed sign-ins. Wait 1 second, then try again."
        );
        assert_eq!(
            message(30, false),
            "Too many failed sign-ins. Wait 30 seconds, then try again."
        );
        assert_eq!(
            message(900, true),
            "Too many failed sign-ins: signing in is paused for a while. Try again in 15 minutes."
        );
    }
}
