//! Where the database is: `--db URL` / `MAILWARDEN_DB`, or the default
//! SQLite file in the XDG data directory.

use std::path::{Path, PathBuf};

use crate::{Backend, StoreError};

/// The file name of the default database.
pub const DEFAULT_FILE: &str = "mailwarden.db";

/// The default database: `$XDG_DATA_HOME/mailwarden/mailwarden.db`, or
/// `~/.local/share/mailwarden/mailwarden.db` (XDG Base Directory: "If
/// $XDG_DATA_HOME is either not set or empty, a default equal to
/// $HOME/.local/share should be used"; a relative value is ignored).
pub fn default_path(var: impl Fn(&str) -> Option<String>) -> Result<PathBuf, StoreError> {
    let xdg = var("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute());
    let base = match xdg {
        Some(dir) => PathBuf::from(dir),
        None => match var("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(&home).join(".local/share"),
            None => {
                return Err(StoreError::BadUrl {
                    url: String::new(),
                    reason: "no --db given and neither XDG_DATA_HOME nor HOME is set: say where the database is (--db sqlite:PATH or MAILWARDEN_DB)".into(),
                });
            }
        },
    };
    Ok(base.join("mailwarden").join(DEFAULT_FILE))
}

/// The default database as a URL.
pub fn default_url() -> Result<String, StoreError> {
    let path = default_path(|k| std::env::var(k).ok())?;
    Ok(format!("sqlite:{}", path.display()))
}

/// A parsed `--db` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An SQLite file (created on first use).
    SqliteFile(PathBuf),
    /// An SQLite database in memory (tests).
    SqliteMemory,
    /// A PostgreSQL URL, as given.
    Postgres(String),
}

impl Target {
    /// `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:`,
    /// `postgres://...` / `postgresql://...`, or a plain file path.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: hide_password(url),
            reason: reason.into(),
        };
        let url = url.trim();
        if url.is_empty() {
            return Err(bad("empty: give sqlite:PATH, postgres://USER@HOST/DB or a file path"));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest == ":memory:" || rest.starts_with(":memory:?") {
                return Ok(Target::SqliteMemory);
            }
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(bad("sqlite: needs a file path (sqlite:/var/lib/mailwarden.db)"));
            }
            return Ok(Target::SqliteFile(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(bad(&format!(
                "unsupported scheme {scheme:?}: mailwarden stores in sqlite:PATH or postgres://USER@HOST/DB"
            )));
        }
        Ok(Target::SqliteFile(PathBuf::from(url)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Target::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// For messages: the URL with any password replaced by `***`.
    pub fn shown(&self) -> String {
        match self {
            Target::SqliteFile(p) => format!("sqlite:{}", p.display()),
            Target::SqliteMemory => "sqlite::memory:".into(),
            Target::Postgres(u) => hide_password(u),
        }
    }

    /// The URL handed to sqlx.
    pub fn connect_url(&self) -> String {
        match self {
            // rwc: create the file when it does not exist.
            Target::SqliteFile(p) => format!("sqlite://{}?mode=rwc", p.display()),
            Target::SqliteMemory => "sqlite::memory:".into(),
            Target::Postgres(u) => u.clone(),
        }
    }

    /// Connections in the pool. One in-memory SQLite database lives in one
    /// connection; a file takes several readers and one writer at a time.
    pub fn pool_size(&self) -> u32 {
        match self {
            Target::SqliteMemory => 1,
            Target::SqliteFile(_) => 4,
            Target::Postgres(_) => 8,
        }
    }

    /// Create the directory of an SQLite file on first use.
    pub fn prepare(&self) -> Result<(), StoreError> {
        if let Target::SqliteFile(path) = self
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::NoDirectory {
                url: self.shown(),
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            default_path(env(&[("XDG_DATA_HOME", "/x/data"), ("HOME", "/home/u")])).unwrap(),
            PathBuf::from("/x/data/mailwarden/mailwarden.db")
        );
        assert_eq!(
            default_path(env(&[("XDG_DATA_HOME", "relative"), ("HOME", "/home/u")])).unwrap(),
            PathBuf::from("/home/u/.local/share/mailwarden/mailwarden.db")
        );
        assert!(default_path(env(&[])).is_err());
    }

    #[test]
    fn urls_choose_the_backend_and_bad_ones_say_why() {
        assert_eq!(
            Target::parse("sqlite:/tmp/a.db").unwrap(),
            Target::SqliteFile("/tmp/a.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/a.db").unwrap(),
            Target::SqliteFile("/tmp/a.db".into())
        );
        assert_eq!(Target::parse("sqlite::memory:").unwrap(), Target::SqliteMemory);
        assert_eq!(Target::parse("./m.db").unwrap(), Target::SqliteFile("./m.db".into()));
        assert_eq!(Target::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        let err = Target::parse("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme \"mysql\""), "{err}");
        assert!(err.contains("u:***@h") && !err.contains("pw"), "{err}");
        assert!(Target::parse("").is_err() && Target::parse("sqlite:").is_err());
    }

    #[test]
    fn shown_urls_hide_the_password() {
        assert_eq!(
            Target::parse("postgres://me:s3cret@db.example/mw").unwrap().shown(),
            "postgres://me:***@db.example/mw"
        );
    }
}
