DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE authorization_codes;
DROP TABLE pending_authorizations;
DROP TABLE signing_keys;
