//! Hook secrets. The signer needs the plaintext, so a secret cannot be
//! hashed like an API key; it is encrypted instead (ChaCha20-Poly1305, a
//! random nonce per secret, the hook id as associated data so a ciphertext
//! cannot be moved to another hook) under a master key that is not in the
//! database: `--webhooks-secret-key` (32 bytes, hex or base64), or on
//! SQLite a key generated once into `webhooks.key` (mode 0600) beside the
//! database file. A database dump alone reveals no usable secret.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use std::path::Path;

/// Random bytes in a secret (`whsec_` + their base64: 32 characters).
pub const SECRET_BYTES: usize = 24;
const PREFIX: &str = "whsec_";
const CIPHERTEXT_VERSION: &str = "v1:";
/// The generated master key's file name, beside the SQLite database.
pub const KEY_FILE: &str = "webhooks.key";

/// A new hook secret: `(shown once to the caller, HMAC key bytes)`.
pub fn generate() -> (String, Vec<u8>) {
    let mut raw = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    (format!("{PREFIX}{}", STANDARD.encode(&raw)), raw)
}

/// The HMAC key of a `whsec_…` secret.
pub fn key_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()
}

/// The master key that encrypts hook secrets at rest.
#[derive(Clone)]
pub struct MasterKey(ChaCha20Poly1305);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parse `--webhooks-secret-key`: 32 bytes as 64 hex digits or base64.
    pub fn parse(s: &str) -> anyhow::Result<MasterKey> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(s).ok()
        } else {
            STANDARD.decode(s).ok()
        };
        match bytes {
            Some(b) if b.len() == 32 => Ok(MasterKey(ChaCha20Poly1305::new(Key::from_slice(&b)))),
            _ => anyhow::bail!(
                "--webhooks-secret-key must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)"
            ),
        }
    }

    /// Read the key file in `dir`, or create it (0600) with a random key.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<MasterKey> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(s) => return MasterKey::parse(&s).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let text = hex::encode(raw);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, text.as_bytes())?;
                f.sync_all()?;
                MasterKey::parse(&text)
            }
            // Another process (the CLI, a second server) created it first.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                MasterKey::parse(&std::fs::read_to_string(&path)?)
            }
            Err(e) => anyhow::bail!("cannot create {}: {e}", path.display()),
        }
    }

    /// Encrypt a hook's HMAC key for storage.
    pub fn seal(&self, hook_id: &str, key: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a fresh nonce cannot fail for inputs this small.
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key, aad: hook_id.as_bytes() })
            .expect("ChaCha20-Poly1305 encryption");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{CIPHERTEXT_VERSION}{}", STANDARD.encode(blob))
    }

    /// Decrypt a stored secret; `None` when it was not sealed by this key
    /// for this hook.
    pub fn open(&self, hook_id: &str, stored: &str) -> Option<Vec<u8>> {
        let blob = STANDARD.decode(stored.strip_prefix(CIPHERTEXT_VERSION)?).ok()?;
        if blob.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = blob.split_at(12);
        self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: hook_id.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_24_bytes() {
        let (s, raw) = generate();
        assert!(s.starts_with("whsec_") && s.len() == 6 + 32, "{s}");
        assert_eq!(key_bytes(&s).unwrap(), raw);
        assert_ne!(generate().0, s);
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_hook() {
        let k = MasterKey::parse(&"11".repeat(32)).unwrap();
        let other = MasterKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        let stored = k.seal("hook_1", b"the hmac key");
        assert!(!stored.contains("the hmac key"));
        assert_eq!(k.open("hook_1", &stored).unwrap(), b"the hmac key");
        assert!(k.open("hook_2", &stored).is_none());
        assert!(other.open("hook_1", &stored).is_none());
        assert!(k.open("hook_1", "v1:AAAA").is_none());
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn the_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = MasterKey::load_or_create(dir.path()).unwrap();
        let b = MasterKey::load_or_create(dir.path()).unwrap();
        let stored = a.seal("hook_x", b"k");
        assert_eq!(b.open("hook_x", &stored).unwrap(), b"k");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
