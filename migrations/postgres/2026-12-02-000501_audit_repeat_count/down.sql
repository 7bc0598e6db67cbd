ALTER TABLE audit_events DROP COLUMN repeat_count;
