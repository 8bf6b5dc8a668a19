-- rollup (issues 14 and 16): the sums the sender inventory reads, kept at
-- import in the report's transaction (crates/store/src/rollup.rs), so the
-- senders page sums a few narrow rows a day instead of every stored
-- report row and its JSON.
-- `report_rollup`: messages, first period start and last period end per
-- tenant, policy domain, UTC day of the period's end (`day`: `since` a
-- date filters exactly) and of its start (the volume chart), source
-- address and shape.
-- `report_rollup_shapes`: what a shape is: header_from, envelope_from, the
-- published adkim/aspf the reporter saw, the results as stored in
-- `report_records.auth`; with the last day it was used (retention). The
-- import names a shape by a digest of those; this migration by a number
-- (a shape can then have two names: the inventory sums both).
-- `report_rollup_reporters`: per source address and reporter, the end of
-- the last period it reported.
-- '' stands for a missing envelope_from, adkim or aspf (the parser never
-- stores an empty one). Retention and erasure delete from all three.
CREATE TABLE report_rollup (
    tenant_id   INTEGER NOT NULL,
    domain      TEXT NOT NULL,
    day         INTEGER NOT NULL,
    begin_day   INTEGER NOT NULL,
    source_ip   TEXT NOT NULL,
    shape       TEXT NOT NULL,
    messages    INTEGER NOT NULL,
    first_begin INTEGER NOT NULL,
    last_end    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, domain, source_ip, shape, day, begin_day)
) WITHOUT ROWID;
-- Both reads of the senders page walk an index in their GROUP BY's order
-- and need nothing else: (source, shape) the key (SQLite keeps the rows in
-- it: WITHOUT ROWID), (start day, source) this one.
CREATE INDEX report_rollup_period ON report_rollup (tenant_id, domain, begin_day, source_ip, day, messages);

CREATE TABLE report_rollup_shapes (
    tenant_id     INTEGER NOT NULL,
    domain        TEXT NOT NULL,
    shape         TEXT NOT NULL,
    header_from   TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    adkim         TEXT NOT NULL,
    aspf          TEXT NOT NULL,
    auth          TEXT NOT NULL,
    last_day      INTEGER NOT NULL
);
CREATE UNIQUE INDEX report_rollup_shapes_key ON report_rollup_shapes (tenant_id, domain, shape);

CREATE TABLE report_rollup_reporters (
    tenant_id INTEGER NOT NULL,
    domain    TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    reporter  TEXT NOT NULL,
    last_end  INTEGER NOT NULL
);
CREATE UNIQUE INDEX report_rollup_reporters_key ON report_rollup_reporters (tenant_id, domain, source_ip, reporter);

-- The rows stored before this migration. Days are floored (periods before
-- 1970 too): x - ((x % n) + n) % n.
CREATE TEMPORARY TABLE rollup_backfill AS
SELECT r.tenant_id, r.domain, (r.end_at - ((r.end_at % 86400) + 86400) % 86400) / 86400 AS day,
       (r.begin_at - ((r.begin_at % 86400) + 86400) % 86400) / 86400 AS begin_day, r.begin_at, r.end_at,
       r.reporter, rr.source_ip, rr.count, rr.header_from, COALESCE(rr.envelope_from, '') AS envelope_from,
       COALESCE(json_extract(r.meta, '$.policy_published.adkim'), '') AS adkim,
       COALESCE(json_extract(r.meta, '$.policy_published.aspf'), '') AS aspf, rr.auth
FROM reports r JOIN report_records rr ON rr.report_id = r.id
WHERE r.kind = 'aggregate';

INSERT INTO report_rollup_shapes (tenant_id, domain, shape, header_from, envelope_from, adkim, aspf, auth, last_day)
SELECT tenant_id, domain,
       'm' || ROW_NUMBER() OVER (ORDER BY tenant_id, domain, header_from, envelope_from, adkim, aspf, auth),
       header_from, envelope_from, adkim, aspf, auth, MAX(day)
FROM rollup_backfill
GROUP BY tenant_id, domain, header_from, envelope_from, adkim, aspf, auth;

INSERT INTO report_rollup (tenant_id, domain, day, begin_day, source_ip, shape, messages, first_begin, last_end)
SELECT b.tenant_id, b.domain, b.day, b.begin_day, b.source_ip, s.shape, SUM(b.count), MIN(b.begin_at), MAX(b.end_at)
FROM rollup_backfill b JOIN report_rollup_shapes s
  ON s.tenant_id = b.tenant_id AND s.domain = b.domain AND s.header_from = b.header_from
     AND s.envelope_from = b.envelope_from AND s.adkim = b.adkim AND s.aspf = b.aspf AND s.auth = b.auth
GROUP BY b.tenant_id, b.domain, b.day, b.begin_day, b.source_ip, s.shape;

INSERT INTO report_rollup_reporters (tenant_id, domain, source_ip, reporter, last_end)
SELECT tenant_id, domain, source_ip, reporter, MAX(end_at)
FROM rollup_backfill
GROUP BY tenant_id, domain, source_ip, reporter;

DROP TABLE rollup_backfill;
