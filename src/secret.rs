//! Random tokens, hashes and constant-time comparison for secrets (API keys,
//! pickup codes, webhook signatures).

use sha2::{Digest, Sha256};

/// Fills `buf` from the operating system's generator (getrandom(2)), which
/// fails only where the kernel has no entropy source at all; a predictable
/// buffer must never stand in for a random one, so that stops the request.
fn fill_random(buf: &mut [u8]) {
    if let Err(error) = getrandom::fill(buf) {
        panic!("the operating system's random generator failed: {error}");
    }
}

/// A URL-safe random token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// `len` characters drawn uniformly from `alphabet` (2 to 256 letters).
pub fn random_text(alphabet: &[u8], len: usize) -> String {
    // Bytes at or past the largest multiple of the alphabet's size are drawn
    // again, so that every letter is equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut text = String::with_capacity(len);
    let mut buf = [0u8; 32];
    while text.len() < len {
        fill_random(&mut buf);
        let letters = buf.iter().map(|&b| usize::from(b)).filter(|&b| b < limit);
        text.extend(letters.map(|b| char::from(alphabet[b % alphabet.len()])).take(len - text.len()));
    }
    text
}

/// A uniformly random number in `[low, high)`.
pub fn random_between(low: f64, high: f64) -> f64 {
    let mut buf = [0u8; 8];
    fill_random(&mut buf);
    // The top 53 bits make every representable step of [0, 1) equally likely.
    let unit = (u64::from_le_bytes(buf) >> 11) as f64 / (1u64 << 53) as f64;
    low + (high - low) * unit
}

/// HMAC-SHA256 of `message` with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(input: &[u8]) -> String {
    hex(&Sha256::digest(input))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]).map(char::from).collect()
}

/// Compares without leaking through timing where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// A secret as stored: `v1:` and the URL-safe base64 of a random 24-byte
/// nonce followed by the XChaCha20-Poly1305 ciphertext; empty for none.
/// `Debug` never prints it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    const PREFIX: &'static str = "v1:";

    /// A value read back from the database (sealed on the way in).
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this is a sealed value (not plaintext from before sealing).
    pub fn is_sealed(&self) -> bool {
        self.0.starts_with(Self::PREFIX)
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be opened: {0}")]
pub struct SecretError(&'static str);

/// The key that seals secrets stored in the database (marketplace
/// credentials and webhook secrets), from `OMNISTOCK_SECRET_KEY`.
pub struct Keyring {
    cipher: chacha20poly1305::XChaCha20Poly1305,
    check: String,
}

impl Keyring {
    /// A key from its URL-safe base64 form (32 bytes).
    pub fn from_base64(raw: &str) -> Result<Self, String> {
        use base64::Engine;
        use chacha20poly1305::KeyInit;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim().trim_end_matches('='))
            .map_err(|_| "must be 32 bytes in URL-safe base64 (see README: Secrets)".to_owned())?;
        let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| format!("must be 32 bytes, not {}", bytes.len()))?;
        let check = hex(&hmac_sha256(&bytes, b"omnistock secret key check"));
        Ok(Self { cipher, check })
    }

    /// A fresh random key, in the form `from_base64` reads.
    pub fn generate() -> String {
        random_token(32)
    }

    /// What this key is known by without revealing it: stored in the
    /// database, so an instance started with another key stops at once.
    pub fn check_value(&self) -> &str {
        &self.check
    }

    pub fn seal(&self, plain: &[u8]) -> Sealed {
        use base64::Engine;
        use chacha20poly1305::aead::Aead;
        let mut nonce = [0u8; 24];
        fill_random(&mut nonce);
        // Encryption into a Vec cannot fail for inputs of this size.
        let ciphertext = self.cipher.encrypt((&nonce).into(), plain).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        Sealed(format!("{}{}", Sealed::PREFIX, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)))
    }

    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, SecretError> {
        use base64::Engine;
        use chacha20poly1305::aead::Aead;
        let body = sealed.0.strip_prefix(Sealed::PREFIX).ok_or(SecretError("it is not sealed"))?;
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| SecretError("bad encoding"))?;
        if bytes.len() < 24 {
            return Err(SecretError("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher.decrypt(nonce.into(), ciphertext).map_err(|_| SecretError("sealed with another key"))
    }

    /// The key from `OMNISTOCK_SECRET_KEY`, else from `file`, else a new one
    /// written to `file` (readable by this user only) on first start.
    pub fn load(from_env: Option<&str>, file: &std::path::Path) -> Result<Self, String> {
        let problem = |what: String| format!("configuration error: {what}");
        if let Some(raw) = from_env {
            return Self::from_base64(raw).map_err(|e| problem(format!("OMNISTOCK_SECRET_KEY {e}")));
        }
        match std::fs::read_to_string(file) {
            Ok(raw) => Self::from_base64(&raw).map_err(|e| problem(format!("{}: {e}", file.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(file, &key).map_err(|e| problem(format!("cannot write {}: {e}", file.display())))?;
                tracing::info!(file = %file.display(), "generated the key that seals stored secrets; keep it with the database");
                Self::from_base64(&key)
            }
            Err(error) => Err(problem(format!("cannot read {}: {error}", file.display()))),
        }
    }
}

/// Creates `file` with `contents`, readable and writable by its owner only.
fn write_private(file: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_draws_every_letter_and_only_those() {
        let text = random_text(b"AB7", 3000);
        assert_eq!(text.len(), 3000);
        for letter in ['A', 'B', '7'] {
            let share = text.chars().filter(|&c| c == letter).count();
            assert!((800..1200).contains(&share), "{letter}: {share} of 3000");
        }
        assert!((0..1000).map(|_| random_between(0.5, 1.5)).all(|x| (0.5..1.5).contains(&x)));
    }
}
