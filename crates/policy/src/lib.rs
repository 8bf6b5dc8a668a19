//! mailwarden-policy
