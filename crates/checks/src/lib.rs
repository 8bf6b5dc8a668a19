//! # mailwarden-checks
//!
//! Collect and judge, one module per protocol. Each protocol module has a
//! pure `judge` over a [`DnsView`](mailwarden_model::DnsView) that returns
//! findings; [`collect::fixpoint`] gathers the answers the judges need.

pub mod collect;
