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

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    registration_access_tokens,
    deleted_clients,
    audit_events,
    admin_tokens,
    client_counts,
    users,
    sessions,
    consents
);
