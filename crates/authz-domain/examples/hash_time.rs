//! Prints the mean time of one Argon2id hash of a client secret with the given (default) cost, on
//! one thread: the baseline the load test compares confidential registrations against.
//!
//! `cargo run --release -p authz-domain --example hash_time -- [ROUNDS] [MEMORY_KIB] [ITERATIONS]`

use std::time::Instant;

use authz_domain::credentials::{Argon2Settings, SecretHasher, SystemRandomSource};
use secrecy::SecretString;

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let defaults = Argon2Settings::default();
    let rounds = args.first().copied().unwrap_or(30);
    let settings = Argon2Settings {
        memory_kib: args.get(1).copied().unwrap_or(defaults.memory_kib),
        iterations: args.get(2).copied().unwrap_or(defaults.iterations),
        parallelism: 1,
    };
    let hasher = match SecretHasher::new(settings, 1) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("hash_time: {e}");
            std::process::exit(1);
        }
    };
    let rng = SystemRandomSource::new();
    let secret = SecretString::from("x".repeat(43));
    let _ = hasher.hash(&secret, &rng); // warm up
    let start = Instant::now();
    for _ in 0..rounds {
        if let Err(e) = hasher.hash(&secret, &rng) {
            eprintln!("hash_time: {e}");
            std::process::exit(1);
        }
    }
    let per_hash_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    println!("{per_hash_ms:.3}");
}
