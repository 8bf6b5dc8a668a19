//! The sender inventory (issue 14): who sends mail as a domain, from its
//! stored DMARC aggregate reports, joined with the domain's configuration
//! from its latest stored scan. Pure folds ([`inventory`], [`config`],
//! [`policy`]) and one reader of the store ([`build`]), shared by
//! `mailwarden senders` and the web service's senders page.

mod build;
pub mod config;
pub mod inventory;
pub mod policy;
pub mod rdns;
pub mod tls_joins;

pub use build::{Report, Reports, build, build_named, build_observed, build_observed_named};
