//! Users, passwords, sessions and consents (authorization contract §3).
//!
//! * [`Username`] (case-folded comparison key), [`UserId`] (the token's `sub`), [`Password`]
//!   under a [`PasswordPolicy`], the stored [`User`].
//! * [`Authenticator`]: the port a sign-in goes through; [`LocalAuthenticator`] checks Argon2id
//!   password hashes, and an upstream OpenID provider can implement it later.
//! * [`SessionId`] (256 random bits in a cookie, stored as a SHA-256 digest), [`Session`] with
//!   idle and absolute expiry under a [`SessionPolicy`].
//! * [`ConsentRecord`]: what a user allowed a client, reused when a request asks for no more.
//! * Ports [`UserRepository`], [`SessionRepository`], [`ConsentRepository`] (implemented by
//!   `authz-storage`, and in memory by [`InMemoryUserStore`]); use cases [`UserService`] and
//!   [`ConsentService`].

mod authenticator;
mod consent;
mod error;
pub mod memory;
mod ports;
mod service;
mod session;
mod throttle;
mod user;
mod values;

pub use authenticator::{Authenticator, LocalAuthenticator};
pub use consent::{scope_set, ConsentRecord};
pub use error::{SignInError, UserError, INVALID_CREDENTIALS_MESSAGE};
pub use memory::InMemoryUserStore;
pub use ports::{ConsentRepository, SessionRepository, UserGrants, UserRepository};
pub use service::{user_actor, ConsentService, SignedIn, UserService};
pub use session::{Session, SessionId, SessionPolicy};
pub use throttle::{
    throttle_key, SignInThrottlePolicy, SignInThrottleRepository, ThrottleKind, ThrottleState,
    ThrottleThresholds,
};
pub use user::{AuthenticatedUser, User, UserPage, UserQuery, MAX_USERS_PER_PAGE};
pub use values::{
    parse_display_name, Password, PasswordPolicy, UserId, Username, MAX_DISPLAY_NAME_CHARS,
    MAX_USERNAME_CHARS, USER_ID_BYTES,
};

#[cfg(test)]
mod tests;
