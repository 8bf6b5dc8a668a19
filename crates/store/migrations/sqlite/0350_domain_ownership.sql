-- web-ops (issue 16): a domain's ownership, shown by a DNS TXT token or
-- by an admin override (audit-logged), per tenant. Reports and alerts for a
-- domain need it (ownership.rs). migrations/postgres/0350_domain_ownership.sql
-- holds the same logical schema.
-- state: pending (token issued, not seen yet), verified (the TXT record
-- showed the token) or overridden (an admin vouched, with a reason).
-- last_check: the outcome of the latest lookup, in words, for the user.
CREATE TABLE domain_ownership (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    domain          TEXT NOT NULL,
    token           TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    created_at      TEXT NOT NULL,
    checked_at      TEXT,
    last_check      TEXT,
    verified_at     TEXT,
    verified_by     TEXT,
    override_reason TEXT,
    PRIMARY KEY (tenant_id, domain)
);
CREATE INDEX domain_ownership_domain ON domain_ownership (domain, state);
