-- The store's tables (SQLite). migrations/postgres/0001_store.sql holds the
-- same logical schema; tests/schema.rs keeps the two from drifting.
-- Times are RFC 3339 UTC text of fixed width, so text order is time order.

CREATE TABLE monitors (
    domain      TEXT PRIMARY KEY,
    every_secs  INTEGER NOT NULL,
    options     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    next_due_at TEXT NOT NULL
);

CREATE TABLE snapshots (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    domain            TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    seen_count        INTEGER NOT NULL,
    scanner_version   TEXT NOT NULL,
    catalogue_version TEXT NOT NULL,
    observation       BLOB NOT NULL,
    score             INTEGER,
    scores            TEXT,
    profiles          TEXT NOT NULL
);
CREATE INDEX snapshots_domain ON snapshots (domain, id);
CREATE INDEX snapshots_last_seen ON snapshots (last_seen_at);

CREATE TABLE findings (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    rule_id     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX findings_snapshot ON findings (snapshot_id);

CREATE TABLE baselines (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain      TEXT NOT NULL,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    approved_at TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX baselines_domain ON baselines (domain, id);

CREATE TABLE retention (
    kind        TEXT PRIMARY KEY,
    period_secs INTEGER NOT NULL,
    set_at      TEXT NOT NULL
);

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Agreed with auditalert (INTERFACES.md): seq is gapless from 1; content
-- is NULL once erased or expired.
CREATE TABLE audit_events (
    seq     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    domain  TEXT,
    content TEXT
);
CREATE INDEX audit_events_domain ON audit_events (domain);

-- Agreed with auditalert (INTERFACES.md). "trigger" is a keyword: quote it.
CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT NOT NULL,
    domain          TEXT NOT NULL,
    "trigger"       TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT
);
CREATE INDEX alert_outbox_state ON alert_outbox (state, next_attempt_at);
CREATE INDEX alert_outbox_domain ON alert_outbox (domain);
