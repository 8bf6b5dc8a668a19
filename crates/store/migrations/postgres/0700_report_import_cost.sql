-- The cost of an aggregate report's rows on the server (issue 14's 50,000
-- records/s; measured by COPY of the 300,000 rows of bench/reports.sh):
--
-- * report_records' foreign key checked every copied row against
--   `reports` (1.9 s with it, 0.7 s without). Its rows are only ever
--   written in their report's transaction, with the id just returned by
--   the report's INSERT (reports.rs), so the check could not fail; what
--   the key also did, ON DELETE CASCADE, a statement trigger on `reports`
--   does set-wise: retention and erasure still delete `reports` rows only.
-- * The rollup's text keys compared under the database's collation
--   (strcoll for every comparison, unless the cluster's is "C"): they are
--   addresses, digests and domain names, compared by byte now; the
--   inventory never orders by them in SQL. 2.5 s → 1.8 s.
-- * report_rollup_period, the second index of the rollup (1 s of the
--   1.8 s): PostgreSQL sums the senders' volume per day by hashing the
--   rows the key's range gives (SQLite, which sorts instead, keeps it).
ALTER TABLE report_records DROP CONSTRAINT report_records_report_id_fkey;

CREATE FUNCTION report_records_follow_reports() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM report_records WHERE report_id IN (SELECT id FROM gone);
    RETURN NULL;
END;
$$;
CREATE TRIGGER report_records_follow_reports AFTER DELETE ON reports
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION report_records_follow_reports();

DROP INDEX report_rollup_period;
ALTER TABLE report_rollup
    ALTER COLUMN domain TYPE TEXT COLLATE "C",
    ALTER COLUMN source_ip TYPE TEXT COLLATE "C",
    ALTER COLUMN shape TYPE TEXT COLLATE "C";
ALTER TABLE report_rollup_reporters
    ALTER COLUMN domain TYPE TEXT COLLATE "C",
    ALTER COLUMN source_ip TYPE TEXT COLLATE "C",
    ALTER COLUMN reporter TYPE TEXT COLLATE "C";
ALTER TABLE report_rollup_shapes
    ALTER COLUMN domain TYPE TEXT COLLATE "C",
    ALTER COLUMN shape TYPE TEXT COLLATE "C";
