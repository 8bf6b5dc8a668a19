//! The audit log's Ed25519 key: a file outside the database (a credential,
//! so in the XDG *config* directory, not beside the data), created on first
//! use with mode 0600. Anyone who can write the database but not read this
//! file cannot forge the log's signed tree heads.
//!
//! Where: [`set_key_path`] (the CLI's `--audit-key`), else
//! `MAILWARDEN_AUDIT_KEY`, else `$XDG_CONFIG_HOME/mailwarden/audit-ed25519.key`
//! (`~/.config/...` when unset).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use mailwarden_audit::{LogKey, PublicKey};

use crate::StoreError;

/// The key file's name in the default directory.
pub const DEFAULT_FILE: &str = "audit-ed25519.key";

static CONFIGURED: RwLock<Option<PathBuf>> = RwLock::new(None);
static LOADED: Mutex<Option<HashMap<PathBuf, Arc<LogKey>>>> = Mutex::new(None);

/// Use the key at `path` for this process (CLI `--audit-key`, tests).
pub fn set_key_path(path: PathBuf) {
    *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(path);
}

/// The key file this process uses.
pub fn key_path() -> Result<PathBuf, StoreError> {
    if let Some(path) = CONFIGURED.read().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(path);
    }
    default_path(|k| std::env::var(k).ok())
}

/// `MAILWARDEN_AUDIT_KEY`, else the XDG config directory (a relative
/// `XDG_CONFIG_HOME` is ignored, as the XDG Base Directory spec says).
pub fn default_path(var: impl Fn(&str) -> Option<String>) -> Result<PathBuf, StoreError> {
    if let Some(path) = var("MAILWARDEN_AUDIT_KEY").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let base = match var("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(dir) => PathBuf::from(dir),
        None => match var("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(&home).join(".config"),
            None => {
                return Err(no_key(
                    "neither MAILWARDEN_AUDIT_KEY, XDG_CONFIG_HOME nor HOME is set: say where the audit key is (--audit-key FILE)",
                ));
            }
        },
    };
    Ok(base.join("mailwarden").join(DEFAULT_FILE))
}

fn no_key(reason: &str) -> StoreError {
    StoreError::NotFound(format!("audit key: {reason}"))
}

/// The signing key, read once per process, created on first use.
pub fn signing_key() -> Result<Arc<LogKey>, StoreError> {
    let path = key_path()?;
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = loaded.get_or_insert_with(HashMap::new);
    if let Some(key) = cache.get(&path) {
        return Ok(key.clone());
    }
    let key = Arc::new(load_or_create(&path)?);
    cache.insert(path, key.clone());
    Ok(key)
}

/// The public key of the key file, without creating one (`None` if there is
/// no file): what `audit verify` checks signatures with.
pub fn public_key() -> Result<Option<(PathBuf, PublicKey)>, StoreError> {
    let path = key_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path.clone(), parse(&path, &text)?.public()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(no_key(&format!("cannot read {}: {e}", path.display()))),
    }
}

fn parse(path: &Path, text: &str) -> Result<LogKey, StoreError> {
    LogKey::from_file_text(text).map_err(|e| no_key(&format!("{} is not an audit key file: {e}", path.display())))
}

fn load_or_create(path: &Path) -> Result<LogKey, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(no_key(&format!("cannot read {}: {e}", path.display()))),
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| no_key(&format!("no randomness for a new key: {e}")))?;
    let key = LogKey::from_seed(seed);
    match publish(path, &key.to_file_text()) {
        Ok(()) => Ok(key),
        // Another process created it first: use theirs, so one log has one key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                std::fs::read_to_string(path).map_err(|e| no_key(&format!("cannot read {}: {e}", path.display())))?;
            parse(path, &text)
        }
        Err(e) => Err(no_key(&format!("cannot create {}: {e}", path.display()))),
    }
}

/// Writes the key to a private temporary file, then links it into place:
/// the file appears complete or not at all, and never replaces a key.
fn publish(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{DEFAULT_FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_xdg_config_dir_and_the_variable_wins() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let p = default_path(env(&[("HOME", "/home/a")])).unwrap();
        assert_eq!(p, Path::new("/home/a/.config/mailwarden/audit-ed25519.key"));
        let p = default_path(env(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "rel")])).unwrap();
        assert_eq!(p, Path::new("/home/a/.config/mailwarden/audit-ed25519.key"));
        let p = default_path(env(&[("XDG_CONFIG_HOME", "/c"), ("MAILWARDEN_AUDIT_KEY", "/k")])).unwrap();
        assert_eq!(p, Path::new("/k"));
        assert!(default_path(env(&[])).is_err());
    }

    #[test]
    fn a_created_key_is_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap().public(), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(
            load_or_create(&path)
                .unwrap_err()
                .to_string()
                .contains("not an audit key file")
        );
    }
}
