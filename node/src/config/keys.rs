//! Key files: one ed25519 secret key per file, as 64 hex digits and a newline.
//!
//! Text rather than raw bytes so a key can be inspected, copied and diffed with ordinary
//! tools; the public key goes in `network.toml` for everyone, the secret stays in a file
//! only its owner can read (mode 0600, as ssh insists for its keys).

use std::io::Write;
use std::path::Path;

use chainspace_core::crypto::Keypair;
use rand::TryRng;
use rand::rngs::SysRng;

/// A fresh key from the operating system's random source. Never derived from a label:
/// these keys identify real replicas.
pub fn generate() -> Result<Keypair, String> {
    let mut secret = [0u8; 32];
    SysRng.try_fill_bytes(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    Ok(Keypair::from_secret(secret))
}

/// Read the key in `file`. The error says what is wrong, without the path (the caller
/// names it).
pub fn read(file: &Path) -> Result<Keypair, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let bytes = hex::decode(text.trim())
        .map_err(|e| format!("not a hex-encoded ed25519 secret key ({e})"))?;
    let secret: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("holds {} bytes; an ed25519 secret key has 32", b.len()))?;
    warn_if_shared(file);
    Ok(Keypair::from_secret(secret))
}

/// Write `key` to a new file `file` readable by its owner only. Refuses to overwrite: a
/// replaced key would lock its replica out of the committee.
pub fn write(file: &Path, key: &Keypair) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    writeln!(f, "{}", hex::encode(key.secret()))?;
    f.sync_all()
}

/// Public keys are written as 64 hex digits.
pub fn public_hex(key: &Keypair) -> String {
    hex::encode(key.public().as_bytes())
}

#[cfg(unix)]
fn warn_if_shared(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(file)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %file.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "key file is readable by others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_file: &Path) {}
