DROP TABLE audit_events;
DROP TABLE deleted_clients;
ALTER TABLE clients DROP COLUMN is_locked;
