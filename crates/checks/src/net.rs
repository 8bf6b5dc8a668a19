//! Address classification: which addresses can receive mail from the
//! Internet. The code lives in [`mailwarden_model::net`] so that the egress
//! guard (`mailwarden-probe`) shares it without depending on the judges.

pub use mailwarden_model::net::non_global_reason;
