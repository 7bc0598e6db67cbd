-- Signing keys, pending authorization requests, authorization codes, refresh token families and
-- revoked access tokens (authorization contract §2, §4-§7). Timestamps are Unix seconds;
-- `i64::MAX` stands for "never". Secrets are stored only as SHA-256 digests (32 bytes).

-- Signing keys (contract §6): the public JWK in clear, the PKCS#8 private key encrypted under the
-- key-encryption key (AES-256-GCM, bound to `kid`). Few rows; read whole by every instance.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retired_at BIGINT,
    remove_after BIGINT
) WITHOUT ROWID;

-- Authorization requests waiting for the user to sign in and consent, keyed by the digest of
-- their random id; `request` is the validated request as a JSON document.
CREATE TABLE pending_authorizations (
    id_digest BLOB PRIMARY KEY NOT NULL,
    request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_id TEXT,
    auth_time BIGINT,
    csrf_key BLOB NOT NULL
) WITHOUT ROWID;

CREATE INDEX pending_authorizations_expires_at ON pending_authorizations (expires_at);

-- Authorization codes (contract §4), single use: `used_at` is set once, by the exchange. Used
-- codes stay until they are purged so that a replay is recognised and revokes `family_id`.
-- `scope` is the sorted scope tokens separated by spaces; `resources` the canonical resource
-- URIs in granted order separated by spaces (a URI holds no space).
CREATE TABLE authorization_codes (
    digest BLOB PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT,
    code_challenge TEXT NOT NULL,
    scope TEXT NOT NULL,
    resources TEXT NOT NULL,
    user_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    family_id TEXT NOT NULL,
    used_at BIGINT
) WITHOUT ROWID;

CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- Refresh token families (contract §5): the grant of one exchanged code. A refresh locks its
-- family's row, so refreshes of one family are serialised. `scope` and `resources` are sorted
-- and separated by spaces. A deleted client takes its families, and their tokens, with it.
CREATE TABLE refresh_families (
    family_id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resources TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
) WITHOUT ROWID;

CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
CREATE INDEX refresh_families_user_id ON refresh_families (user_id);

-- Refresh tokens by digest. A rotated-out token keeps its row (`rotated_at`) so that presenting
-- it again after the grace window is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_digest BLOB PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
) WITHOUT ROWID;

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- Revoked access tokens (RFC 7009): a JWT's `jti`, remembered until the token expires.
CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);
