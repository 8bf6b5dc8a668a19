-- joins (issue 14): forward-confirmed reverse DNS of the source addresses
-- of aggregate reports (crates/senders/src/rdns.rs), so `mailwarden
-- senders` and the senders page do not ask again within a TTL. Public DNS
-- data, the same for every tenant: no tenant_id. migrations/sqlite/
-- 0210_rdns_cache.sql holds the same logical schema.
-- state: confirmed (names holds the one confirmed name), unconfirmed (the
-- PTR names, none resolving back), none (no PTR), indeterminate (reason).
CREATE TABLE rdns_cache (
    ip           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    names        TEXT NOT NULL,
    reason       TEXT,
    looked_up_at TEXT NOT NULL
);
