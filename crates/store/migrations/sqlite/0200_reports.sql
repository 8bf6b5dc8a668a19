-- reports (issue 14): DMARC aggregate and failure reports and TLS reports.
-- One row per report in `reports` (its identity, the duplicate key, and the
-- report without its rows as JSON in `meta`); an aggregate report's rows in
-- `report_records`, a TLS report's policies in `report_tls`, and the DKIM
-- selectors its rows show in `report_selectors` (so later scans can audit
-- the keys actually in use). Everything goes with its report (ON DELETE
-- CASCADE): retention and erasure delete `reports` rows only.
-- A failure report keeps only the redacted fields (no raw message).
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL DEFAULT 1,
    short_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    domain      TEXT NOT NULL,
    begin_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    records     INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    flags       TEXT NOT NULL,
    meta        TEXT NOT NULL
);
CREATE UNIQUE INDEX reports_identity ON reports (tenant_id, short_id);
CREATE INDEX reports_family ON reports (tenant_id, kind, reporter, report_id, domain);
CREATE INDEX reports_domain ON reports (domain, begin_at);
CREATE INDEX reports_imported ON reports (imported_at);

CREATE TABLE report_records (
    report_id     INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    tenant_id     INTEGER NOT NULL DEFAULT 1,
    source_ip     TEXT NOT NULL,
    count         INTEGER NOT NULL,
    disposition   TEXT NOT NULL,
    dkim_eval     TEXT,
    spf_eval      TEXT,
    header_from   TEXT NOT NULL,
    envelope_from TEXT,
    envelope_to   TEXT,
    auth          TEXT NOT NULL
);
CREATE INDEX report_records_report ON report_records (report_id);

CREATE TABLE report_tls (
    report_id     INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    tenant_id     INTEGER NOT NULL DEFAULT 1,
    policy_type   TEXT NOT NULL,
    policy_domain TEXT,
    mx_hosts      TEXT NOT NULL,
    successful    INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX report_tls_report ON report_tls (report_id);

CREATE TABLE report_selectors (
    report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL DEFAULT 1,
    domain    TEXT NOT NULL,
    selector  TEXT NOT NULL,
    messages  INTEGER NOT NULL,
    passed    INTEGER NOT NULL
);
CREATE INDEX report_selectors_domain ON report_selectors (domain, selector);
CREATE INDEX report_selectors_report ON report_selectors (report_id);
