//! The key-encryption key that protects signing keys at rest (contract §6): from
//! `keys.key_encryption_key`, or from a file — by default `authz.kek` beside the SQLite database,
//! created with mode 0600 on a first start when the database holds no key yet.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use authz_domain::credentials::SystemRandomSource;
use authz_domain::keys::KeyEncryptionKey;
use secrecy::ExposeSecret;

use crate::settings::Settings;

/// Where the key-encryption key file is: `keys.key_encryption_key_file`, else `authz.kek` in the
/// SQLite database's folder. `None` for PostgreSQL without a configured file.
pub fn kek_path(settings: &Settings) -> Option<PathBuf> {
    if !settings.keys.key_encryption_key_file.is_empty() {
        return Some(PathBuf::from(&settings.keys.key_encryption_key_file));
    }
    let path = settings.database.url.strip_prefix("sqlite://")?;
    let folder = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(folder.join("authz.kek"))
}

/// The key-encryption key. `database_has_keys`: whether signing keys already exist, so that a
/// missing key is an error (they could never be decrypted) rather than a reason to make one.
pub fn load(settings: &Settings, database_has_keys: bool) -> anyhow::Result<KeyEncryptionKey> {
    if let Some(value) = &settings.keys.key_encryption_key {
        return KeyEncryptionKey::parse(value.expose_secret().trim())
            .map_err(|e| anyhow!("keys.key_encryption_key: {e}"));
    }
    let Some(path) = kek_path(settings) else {
        bail!(
            "keys.key_encryption_key_file (or AUTHZ__KEYS__KEY_ENCRYPTION_KEY) is required with PostgreSQL: \
             every instance must encrypt and decrypt signing keys with the same key. Create one with \
             `head -c 32 /dev/urandom | basenc --base64url` and store it where every instance can read it"
        );
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            KeyEncryptionKey::parse(text.trim())
                .map_err(|e| anyhow!("keys.key_encryption_key_file {}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if database_has_keys {
                bail!(
                    "keys.key_encryption_key_file {}: missing, but the database holds signing keys encrypted \
                     with it. Restore the file from your backup (or set keys.key_encryption_key); without it \
                     the keys cannot be used. To start over instead, delete the rows of signing_keys \
                     (every issued access token then stops verifying)",
                    path.display()
                );
            }
            create(&path)
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "keys.key_encryption_key_file {}: cannot read",
                path.display()
            )
        }),
    }
}

fn create(path: &Path) -> anyhow::Result<KeyEncryptionKey> {
    let kek = KeyEncryptionKey::generate(&SystemRandomSource::new())
        .map_err(|e| anyhow!("generating a key-encryption key: {e}"))?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "keys.key_encryption_key_file {}: cannot create",
                path.display()
            )
        })?;
    writeln!(file, "{}", kek.to_base64url().expose_secret())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "created the key-encryption key file (mode 0600); back it up with the database");
    Ok(kek)
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the key-encryption key file is readable by other users; chmod 600 it");
        }
    }
}
