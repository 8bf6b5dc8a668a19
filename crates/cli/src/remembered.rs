//! DKIM selectors remembered in the store (`mailwarden message --db ...`
//! writes them, `mailwarden_store::selectors`), added to the ones a scan
//! asks: `scan` with `--db`/`MAILWARDEN_DB`, and every `monitor` scan.
//! Additive only: the user's `--dkim-selector`s and the built-in guesses
//! are still asked, and a store that cannot be read costs the remembered
//! ones only (said on standard error), never the scan.

use anyhow::Result;
use mailwarden_model::ScanOptions;
use mailwarden_store::Store;

/// The store of `--db` / `MAILWARDEN_DB` / the settings file, when one was
/// given; `None` otherwise (a scan never creates the default database).
pub async fn open(db: Option<&str>) -> Result<Option<Store>> {
    Ok(match db {
        Some(url) => Some(Store::open(url).await?),
        None => None,
    })
}

/// [`open`] for `scan` and `message`: a database that cannot be opened
/// costs the remembered selectors only, said on standard error
/// (MAILWARDEN_DB may be set for `monitor` where these should still run).
pub async fn open_or_warn(db: Option<&str>) -> Option<Store> {
    open(db).await.unwrap_or_else(|e| {
        eprintln!(
            "mailwarden: DKIM selectors are not remembered nor asked from the database: {}",
            mailwarden_render::inert::line(&format!("{e:#}"))
        );
        None
    })
}

/// The selectors remembered for `domain`; none (with a warning) when the
/// store cannot be read.
pub async fn for_domain(store: &Store, domain: &str) -> Vec<String> {
    mailwarden_store::selectors::for_domain(store, domain)
        .await
        .unwrap_or_else(|e| {
            eprintln!(
                "mailwarden: {}: the remembered DKIM selectors of {} could not be read: {e}",
                store.url(),
                mailwarden_render::inert::line(domain)
            );
            Vec::new()
        })
}

/// The selectors remembered for every domain; none (with a warning) when
/// the store cannot be read.
pub async fn by_domain(store: &Store) -> mailwarden_store::selectors::ByDomain {
    mailwarden_store::selectors::by_domain(store).await.unwrap_or_else(|e| {
        eprintln!(
            "mailwarden: {}: the remembered DKIM selectors could not be read: {e}",
            store.url()
        );
        Default::default()
    })
}

/// `base` with `extra` selectors after the user's (duplicates are dropped
/// where the DKIM check builds its list).
pub fn with(base: &ScanOptions, extra: Vec<String>) -> ScanOptions {
    let mut options = base.clone();
    options.dkim_selectors.extend(extra);
    options
}

/// The options for scanning `domain`: `base` plus its remembered selectors.
pub async fn options_for(store: Option<&Store>, domain: &str, base: &ScanOptions) -> ScanOptions {
    match store {
        Some(store) => with(base, for_domain(store, domain).await),
        None => base.clone(),
    }
}
