-- Tables keyed by text or digest are WITHOUT ROWID (SQLite): one B-tree per table instead of a
-- table plus a primary-key index, so every insert and lookup touches half the pages.
-- Registered clients. `metadata` holds the full registered metadata document (JSON); the other
-- columns are the parts that are queried or needed without parsing it.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    client_name TEXT,
    token_endpoint_auth_method TEXT NOT NULL,
    secret_hash TEXT,
    secret_expires_at BIGINT NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'dynamic',
    issued_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE INDEX clients_issued_at ON clients (issued_at, client_id);

-- Registration access tokens (RFC 7592), stored only as SHA-256 digests.
CREATE TABLE registration_access_tokens (
    token_digest BLOB PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
) WITHOUT ROWID;

CREATE INDEX registration_access_tokens_client_id ON registration_access_tokens (client_id);
