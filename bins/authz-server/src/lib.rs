//! # authz-server
//!
//! Wires configuration, telemetry, storage and HTTP together. `main.rs` only parses the command
//! line; everything here is also what the integration tests start, on port 0.

pub mod settings;
pub mod startup;
pub mod telemetry;
