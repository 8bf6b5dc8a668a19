-- message (issue 17): the DKIM selectors seen in verified messages, per
-- signing domain, so that scan and monitor ask them besides the guessed
-- ones. tenant_id: see issue 16 (the web helper adds scoping at merge).
CREATE TABLE dkim_selectors (
    tenant_id  INTEGER NOT NULL DEFAULT 1,
    domain     TEXT NOT NULL,
    selector   TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    seen_count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, domain, selector)
);
