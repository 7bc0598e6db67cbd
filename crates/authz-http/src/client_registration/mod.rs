//! Dynamic Client Registration endpoints (RFC 7591).

mod handlers;

pub use handlers::register;
