-- Local user accounts, browser sessions and remembered consents (authorization contract §3).

-- `username` as first entered; `username_key` its Unicode case folding, computed by the server
-- (so `Alice` and `ALICE` are one account whatever the database's collation). `id` is the
-- opaque, stable `sub` of the user's tokens. Passwords only as Argon2id PHC strings.
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    is_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
) WITHOUT ROWID;

-- Sessions, stored only as the SHA-256 digest of the 256-bit cookie value.
CREATE TABLE sessions (
    digest BLOB PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_absolute_expires_at ON sessions (absolute_expires_at);

-- What a user allowed a client: `scope` is the sorted scope tokens separated by spaces,
-- `resources` a sorted JSON array of resource URIs. A deleted client's consents are deleted by
-- the client repository in the deletion's transaction (client ids are never reused).
CREATE TABLE consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resources TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id, scope, resources)
) WITHOUT ROWID;

CREATE INDEX consents_client_id ON consents (client_id);
