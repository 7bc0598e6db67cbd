-- RFC 7592 self-management: an administrator's lock, tombstones so a deleted client's id is
-- never issued again, and the audit trail.
ALTER TABLE clients ADD COLUMN is_locked BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE deleted_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    deleted_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    client_id TEXT,
    actor TEXT NOT NULL,
    detail TEXT,
    remote_addr TEXT,
    user_agent TEXT,
    request_id TEXT
);

-- Events are listed newest first by id (ids grow with time: SQLite's rowid is never reused while
-- rows are only appended); per client through this index. Time filters scan by id.
CREATE INDEX audit_events_client_id ON audit_events (client_id, id);
