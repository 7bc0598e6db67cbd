//! HTTP integration tests: a real server on port 0 over a real SQLite file or PostgreSQL database.
//! Each test named `…::sqlite::x` has a twin `…::postgres::x`.

mod admin;
mod admin_cli;
mod admin_users;
mod authorization_flow;
mod cli;
mod config;
mod cors;
mod discovery;
mod durability;
mod helpers;
mod initial_access_cli;
mod keys_cli;
mod management;
mod openapi;
mod registration;
mod registration_errors;
mod registration_trust;
mod tokens;
mod users_cli;
