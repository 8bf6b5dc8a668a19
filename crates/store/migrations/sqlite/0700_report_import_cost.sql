-- Nothing for SQLite (see the PostgreSQL migration of this number): it
-- keeps its foreign key (checked cheaply there), compares text by byte
-- already, and keeps report_rollup_period, the index its GROUP BY of the
-- senders' volume per day walks in order (without it SQLite sorts every
-- rollup row: the senders page's p95 went from 147 ms to 343 ms).
SELECT 1;
