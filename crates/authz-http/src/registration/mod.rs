//! Dynamic Client Registration endpoints: RFC 7591 registration and RFC 7592 management.

mod handlers;
pub mod idempotency;
mod management;

pub use handlers::register;
pub use management::{delete, read, update};
