//! Answers from RFC 1035 zone files, offline.
