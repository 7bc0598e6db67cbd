-- Sign-in throttling (issue 10): failed passwords per account and per client address, shared by
-- every instance. `key_digest` is the SHA-256 of "account\0<case-folded username>" or
-- "address\0<ip>", so no typed username (or a password typed into that field) is stored in clear.
-- Timestamps are Unix seconds; 0 means "never".
CREATE TABLE sign_in_throttle (
    key_digest BLOB PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    last_locked_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sign_in_throttle_last_failure_at ON sign_in_throttle (last_failure_at);
