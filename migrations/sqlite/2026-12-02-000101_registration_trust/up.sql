-- Registration trust (issue 10): when each client was last used, initial access tokens
-- (RFC 7591 §3) and idempotent registration.

-- When each client last authenticated (token endpoint client authentication, or its registration
-- access token at RFC 7592 management), and the initial access token it registered with. A side
-- table (the clients table is at diesel's 16-column limit) with a row only for clients that have
-- been used or registered with a token. `last_used_at` is written at most once per client per
-- `registration.last_used_interval_secs`, so the admin API and stale-client expiry read a column
-- instead of scanning the audit trail.
CREATE TABLE client_activity (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    last_used_at BIGINT,
    initial_access_token_id TEXT
) WITHOUT ROWID;
-- Backfilled from the audit trail: each client's last successful self-management call.
INSERT INTO client_activity (client_id, last_used_at)
SELECT c.client_id, (
    SELECT max(a.occurred_at) FROM audit_events a
    WHERE a.client_id = c.client_id AND a.actor = 'client' AND a.succeeded
) FROM clients c
WHERE EXISTS (
    SELECT 1 FROM audit_events a
    WHERE a.client_id = c.client_id AND a.actor = 'client' AND a.succeeded
);
-- Stale-client expiry finds clients unused since a time.
CREATE INDEX client_activity_last_used_at ON client_activity (last_used_at);

-- Initial access tokens (RFC 7591 §3), stored only as SHA-256 digests. `uses_remaining` NULL
-- means unlimited; it is decremented in the transaction that stores the client, so concurrent
-- registrations never use a token more often than allowed. `policy` is JSON (allowed scopes and
-- grant types) or NULL for the server's registration policy alone.
CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_digest BLOB NOT NULL UNIQUE,
    description TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_uses BIGINT,
    uses_remaining BIGINT,
    policy TEXT,
    revoked_at BIGINT
) WITHOUT ROWID;

-- Idempotent registration (`Idempotency-Key`). `lookup` is SHA-256 of the caller's scope and the
-- key (never the key itself); `fingerprint` the SHA-256 of the canonical request body. A row is
-- inserted before the registration runs (state 'in_flight': a concurrent duplicate meets the
-- primary key) and completed with the response encrypted under a key derived from the
-- idempotency key (AES-256-GCM), so the database alone never reveals a credential.
CREATE TABLE idempotency_records (
    lookup BLOB PRIMARY KEY NOT NULL,
    fingerprint BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status BIGINT,
    sealed_response BLOB
) WITHOUT ROWID;

CREATE INDEX idempotency_records_expires_at ON idempotency_records (expires_at);
