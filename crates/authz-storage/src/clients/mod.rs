//! Storage for Dynamic Client Registration: the diesel implementation of the domain's
//! [`ClientRepository`](authz_domain::clients::ClientRepository) port.

mod admin;
mod models;
mod repository;
mod trust;
mod usage;

pub(crate) use models::NewAuditRow;
pub use repository::DieselClientRepository;
pub(crate) use repository::{insert_audit, TxError};
