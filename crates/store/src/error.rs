//! What can go wrong in the store, said so a user knows where to look.

/// An error of the store. Database errors keep the backend's own message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--db` / `MAILWARDEN_DB` value is not a database URL we serve.
    #[error("--db {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The directory of an SQLite file could not be created.
    #[error("--db {url}: cannot create the directory {}: {source}", dir.display())]
    NoDirectory {
        url: String,
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or reached.
    #[error("--db {url}: cannot open the database: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("--db {url}: cannot apply the store's migrations: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored value could not be read back (corrupt row, unknown version).
    #[error("stored data: {0}")]
    Corrupt(String),
    /// A request the store cannot satisfy (unknown domain, snapshot id ...).
    #[error("{0}")]
    NotFound(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
