//! Sign-in throttle state against real databases: failures counted by many threads (as by many
//! instances) at once are all counted, a success clears, and the purge keeps what still matters.

use std::sync::Arc;

use authz_domain::users::{
    throttle_key, SignInThrottlePolicy, SignInThrottleRepository, ThrottleKind, ThrottleState,
};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, DieselSignInThrottle};

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

const T0: i64 = 1_750_000_000;

on_both_backends! {
    concurrent_failures_are_all_counted => |backend| {
        let tdb = TestDatabase::new(backend);
        // Two stores over two pools: two instances.
        let stores = [Arc::new(DieselSignInThrottle::new(tdb.open())), Arc::new(DieselSignInThrottle::new(tdb.open()))];
        let policy = Arc::new(SignInThrottlePolicy::default());
        let key = throttle_key(ThrottleKind::Account, "alice");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (store, policy) = (stores[i % 2].clone(), policy.clone());
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        store
                            .update(&key, &|s| policy.after_failure(ThrottleKind::Account, s, T0))
                            .expect("counted");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let state = stores[0].find(&key).expect("read").expect("row");
        assert_eq!(state.failures, 40, "no lost update");
        assert_eq!(state.locked_until, T0 + 900, "locked at the 20th");
    };

    a_success_clears_and_the_purge_keeps_what_matters => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselSignInThrottle::new(tdb.open());
        let policy = SignInThrottlePolicy::default();
        let (alice, bob, old) = (
            throttle_key(ThrottleKind::Account, "alice"),
            throttle_key(ThrottleKind::Account, "bob"),
            throttle_key(ThrottleKind::Address, "192.0.2.1"),
        );
        for key in [&alice, &bob] {
            store.update(key, &|s| policy.after_failure(ThrottleKind::Account, s, T0)).expect("counted");
        }
        store.update(&old, &|_| ThrottleState { failures: 3, last_failure_at: T0 - 200_000, locked_until: 0, last_locked_at: 0 }).expect("stored");
        store.clear(&alice).expect("cleared");
        assert_eq!(store.find(&alice).expect("read"), None);
        assert_eq!(store.purge(policy.purge_horizon(T0)).expect("purged"), 1);
        assert_eq!(store.find(&old).expect("read"), None);
        assert_eq!(store.find(&bob).expect("read").expect("kept").failures, 1);
    };
}
