-- rollup (issues 14 and 16): the sums the sender inventory reads, kept at
-- import in the report's transaction, so the senders page sums a few
-- rows a day instead of every stored report row.
-- `report_rollup`: messages per tenant, policy domain, day (the UTC day of
-- the report period's end, so `since` a date filters exactly), source
-- address and what the inventory groups by (identifiers, the published
-- adkim/aspf the reporter saw, the reported results as stored in
-- `report_records.auth`). `shape` is a digest of those (the upsert key);
-- NULL for the rows summed by this migration (new imports add rows of their
-- own beside them: the inventory sums them all, so the split costs rows only).
-- `report_rollup_sources`: per day of the period's end and of its start,
-- source address and reporter: messages, first period start and last
-- period end (the reporters, first/last seen and the volume chart).
-- '' stands for a missing envelope_from, adkim or aspf (the parser never
-- stores an empty one). Retention and erasure delete from both.
CREATE TABLE report_rollup (
    tenant_id     INTEGER NOT NULL,
    domain        TEXT NOT NULL,
    day           BIGINT NOT NULL,
    source_ip     TEXT NOT NULL,
    shape         TEXT,
    header_from   TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    adkim         TEXT NOT NULL,
    aspf          TEXT NOT NULL,
    auth          TEXT NOT NULL,
    messages      BIGINT NOT NULL
);
CREATE UNIQUE INDEX report_rollup_key ON report_rollup (tenant_id, domain, day, source_ip, shape);

CREATE TABLE report_rollup_sources (
    tenant_id   INTEGER NOT NULL,
    domain      TEXT NOT NULL,
    day         BIGINT NOT NULL,
    begin_day   BIGINT NOT NULL,
    source_ip   TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    messages    BIGINT NOT NULL,
    first_begin BIGINT NOT NULL,
    last_end    BIGINT NOT NULL
);
CREATE UNIQUE INDEX report_rollup_sources_key
    ON report_rollup_sources (tenant_id, domain, day, begin_day, source_ip, reporter);

-- The days are floored (periods before 1970 included): x - ((x % n) + n) % n.
INSERT INTO report_rollup (tenant_id, domain, day, source_ip, shape, header_from, envelope_from, adkim, aspf,
                           auth, messages)
SELECT r.tenant_id, r.domain, (r.end_at - ((r.end_at % 86400) + 86400) % 86400) / 86400, rr.source_ip, NULL,
       rr.header_from, COALESCE(rr.envelope_from, ''),
       COALESCE(r.meta::jsonb -> 'policy_published' ->> 'adkim', ''),
       COALESCE(r.meta::jsonb -> 'policy_published' ->> 'aspf', ''), rr.auth, SUM(rr.count)
FROM reports r JOIN report_records rr ON rr.report_id = r.id
WHERE r.kind = 'aggregate'
GROUP BY 1, 2, 3, 4, 6, 7, 8, 9, 10;

INSERT INTO report_rollup_sources (tenant_id, domain, day, begin_day, source_ip, reporter, messages, first_begin,
                                   last_end)
SELECT r.tenant_id, r.domain, (r.end_at - ((r.end_at % 86400) + 86400) % 86400) / 86400,
       (r.begin_at - ((r.begin_at % 86400) + 86400) % 86400) / 86400, rr.source_ip, r.reporter,
       SUM(rr.count), MIN(r.begin_at), MAX(r.end_at)
FROM reports r JOIN report_records rr ON rr.report_id = r.id
WHERE r.kind = 'aggregate'
GROUP BY 1, 2, 3, 4, 5, 6;
