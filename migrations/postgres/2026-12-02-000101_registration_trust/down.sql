DROP TABLE idempotency_records;
DROP TABLE initial_access_tokens;
DROP TABLE client_activity;
