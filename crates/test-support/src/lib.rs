//! Test-only helpers: signed in-process DNS zones on loopback.
