//! The schema shared by both backends: portable column types only (`Text`, `BigInt`, `Bool`,
//! `Binary`); timestamps are Unix seconds; JSON documents are `Text`.

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        client_name -> Nullable<Text>,
        token_endpoint_auth_method -> Text,
        secret_hash -> Nullable<Text>,
        secret_expires_at -> BigInt,
        metadata -> Text,
        origin -> Text,
        issued_at -> BigInt,
        updated_at -> BigInt,
        is_locked -> Bool,
        revision -> BigInt,
        settings -> Nullable<Text>,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_valid_until -> Nullable<BigInt>,
        search_text -> Text,
    }
}

diesel::table! {
    registration_access_tokens (token_digest) {
        token_digest -> Binary,
        client_id -> Text,
        issued_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(registration_access_tokens -> clients (client_id));

diesel::table! {
    deleted_clients (client_id) {
        client_id -> Text,
        deleted_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> BigInt,
        action -> Text,
        succeeded -> Bool,
        client_id -> Nullable<Text>,
        actor -> Text,
        detail -> Nullable<Text>,
        remote_addr -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        repeat_count -> BigInt,
    }
}

diesel::table! {
    admin_tokens (name) {
        name -> Text,
        token_digest -> Binary,
        scopes -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    client_counts (slot) {
        slot -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        display_name -> Nullable<Text>,
        password_hash -> Text,
        is_disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        password_changed_at -> BigInt,
    }
}

diesel::table! {
    sessions (digest) {
        digest -> Binary,
        user_id -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        idle_expires_at -> BigInt,
        absolute_expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    consents (user_id, client_id, scope, resources) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        resources -> Text,
        granted_at -> BigInt,
    }
}

diesel::joinable!(consents -> users (user_id));

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_jwk -> Text,
        encrypted_private_key -> Binary,
        created_at -> BigInt,
        activates_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        remove_after -> Nullable<BigInt>,
    }
}

diesel::table! {
    pending_authorizations (id_digest) {
        id_digest -> Binary,
        request -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        csrf_key -> Binary,
    }
}

diesel::table! {
    authorization_codes (digest) {
        digest -> Binary,
        client_id -> Text,
        redirect_uri -> Nullable<Text>,
        code_challenge -> Text,
        scope -> Text,
        resources -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        issued_at -> BigInt,
        expires_at -> BigInt,
        family_id -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_families (family_id) {
        family_id -> Text,
        client_id -> Text,
        user_id -> Text,
        scope -> Text,
        resources -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(refresh_families -> clients (client_id));

diesel::table! {
    refresh_tokens (token_digest) {
        token_digest -> Binary,
        family_id -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(refresh_tokens -> refresh_families (family_id));

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sign_in_throttle (key_digest) {
        key_digest -> Binary,
        failures -> BigInt,
        last_failure_at -> BigInt,
        locked_until -> BigInt,
        last_locked_at -> BigInt,
    }
}

diesel::table! {
    client_activity (client_id) {
        client_id -> Text,
        last_used_at -> Nullable<BigInt>,
        initial_access_token_id -> Nullable<Text>,
    }
}

diesel::joinable!(client_activity -> clients (client_id));

diesel::table! {
    initial_access_tokens (id) {
        id -> Text,
        token_digest -> Binary,
        description -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        max_uses -> Nullable<BigInt>,
        uses_remaining -> Nullable<BigInt>,
        policy -> Nullable<Text>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_records (lookup) {
        lookup -> Binary,
        fingerprint -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
        status -> Nullable<BigInt>,
        sealed_response -> Nullable<Binary>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    registration_access_tokens,
    deleted_clients,
    audit_events,
    admin_tokens,
    client_counts,
    users,
    sessions,
    consents,
    signing_keys,
    pending_authorizations,
    authorization_codes,
    refresh_families,
    refresh_tokens,
    revoked_access_tokens,
    sign_in_throttle,
    client_activity,
    initial_access_tokens,
    idempotency_records
);
