//! HTTP integration tests: a real server on port 0 over a real SQLite file or PostgreSQL database.
//! Each test named `…::sqlite::x` has a twin `…::postgres::x`.

mod admin;
mod admin_cli;
mod admin_users;
mod authorization_flow;
mod base_url;
mod cli;
mod config;
mod cors;
mod discovery;
mod docs_pages;
mod durability;
mod first_hour;
mod helpers;
mod http_semantics;
mod initial_access_cli;
mod keys_cli;
mod log_redaction;
mod management;
mod one_reading;
mod openapi;
mod rate_limits;
mod readiness;
mod registration;
mod registration_errors;
mod registration_trust;
mod sign_in_throttle;
mod slow_clients;
mod substitution;
mod tokens;
mod unstorable;
mod users_cli;
