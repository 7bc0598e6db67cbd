//! # authz-server
//!
//! Wires configuration, telemetry, storage and HTTP together. `main.rs` only calls [`cli::main`];
//! everything here is also what the integration tests start, on port 0.

pub mod cli;
pub mod connection;
pub mod connections;
pub mod kek;
mod maintenance;
pub mod readiness;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod telemetry_levels;
