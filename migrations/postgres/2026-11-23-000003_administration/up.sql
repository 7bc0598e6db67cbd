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
UPDATE clients SET search_text = lower(client_id || coalesce(chr(10) || client_name, ''));

-- Administrator tokens, stored only as SHA-256 digests. Names are never reused.
CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY NOT NULL,
    token_digest BYTEA NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- The number of clients, kept by a trigger in the same transaction as every insert and delete,
-- so an unfiltered listing reports its total without counting a million rows. Sixteen slots
-- (picked by a hash of the client id) keep concurrent registrations from queueing on one row.
CREATE TABLE client_counts (
    slot BIGINT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO client_counts (slot, n) SELECT s, 0 FROM generate_series(0, 15) AS s;
UPDATE client_counts SET n = (SELECT count(*) FROM clients) WHERE slot = 0;

CREATE FUNCTION clients_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE client_counts SET n = n + 1 WHERE slot = (hashtext(NEW.client_id) & 15);
    ELSE
        UPDATE client_counts SET n = n - 1 WHERE slot = (hashtext(OLD.client_id) & 15);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_count AFTER INSERT OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION clients_count();
