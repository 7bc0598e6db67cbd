//! Storage for Dynamic Client Registration: the diesel implementation of the domain's
//! [`ClientRepository`] port.

mod models;
mod repository;

pub use repository::DieselClientRepository;
