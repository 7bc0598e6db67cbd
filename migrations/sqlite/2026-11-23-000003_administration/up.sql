-- Administration: per-client settings, secret rotation with a grace period, optimistic
-- concurrency, case-folded search text, administrator tokens and a maintained client count.

-- Incremented by every change; writers compare it so concurrent read-modify-write cycles never
-- overwrite each other.
ALTER TABLE clients ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
-- Per-client settings (JSON); NULL means the defaults.
ALTER TABLE clients ADD COLUMN settings TEXT;
-- The secret replaced by a rotation, verifying until previous_secret_valid_until.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_valid_until BIGINT;
-- client_id and client names in Unicode lower case (computed by the server, so case-insensitive
-- search works in every language whatever the database's collation). Searched with LIKE.
ALTER TABLE clients ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
-- Existing rows: SQLite's lower() folds ASCII only; the server rewrites the column on the next
-- change of each client.
UPDATE clients SET search_text = lower(client_id || coalesce(char(10) || client_name, ''));

-- Administrator tokens, stored only as SHA-256 digests. Names are never reused.
CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY NOT NULL,
    token_digest BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
) WITHOUT ROWID;

-- The number of clients, kept by triggers in the same transaction as every insert and delete,
-- so an unfiltered listing reports its total without counting a million rows.
CREATE TABLE client_counts (
    slot BIGINT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO client_counts (slot, n) SELECT 0, count(*) FROM clients;

CREATE TRIGGER clients_count_insert AFTER INSERT ON clients
BEGIN
    UPDATE client_counts SET n = n + 1 WHERE slot = 0;
END;

CREATE TRIGGER clients_count_delete AFTER DELETE ON clients
BEGIN
    UPDATE client_counts SET n = n - 1 WHERE slot = 0;
END;
