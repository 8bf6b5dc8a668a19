-- web (issue 16): tenants, users, server-side sessions and API tokens, and
-- the tenant of every domain row. migrations/postgres/0300_tenants_users.sql
-- holds the same logical schema.
-- Tenant 1 is 'default': every row stored before tenants existed is its.
CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', '1970-01-01T00:00:00.000Z');

-- password_hash: an Argon2id PHC string. failed_logins and locked_until
-- carry the lockout across processes (several `serve` on one database).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id),
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

-- Server-side sessions: the cookie holds a random secret, the row its
-- SHA-256, so a copy of the database does not log anyone in.
CREATE TABLE sessions (
    secret_hash TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens: shown once, stored as their SHA-256 (they are 256 random
-- bits, so a fast hash is enough; passwords get Argon2id).
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- The tenant of the existing domain rows. SQLite refuses a REFERENCES
-- column with a non-NULL default in ADD COLUMN while foreign keys are on,
-- so here the tenant is checked by the data layer (tenant.rs); PostgreSQL
-- has the foreign key as well.
ALTER TABLE monitors ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE snapshots ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE baselines ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alert_outbox ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX monitors_tenant ON monitors (tenant_id, domain);
CREATE INDEX snapshots_tenant ON snapshots (tenant_id, domain);
CREATE INDEX alert_outbox_tenant ON alert_outbox (tenant_id, id);
