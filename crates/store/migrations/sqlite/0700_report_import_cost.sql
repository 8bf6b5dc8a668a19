-- The rollup's second index (see the PostgreSQL migration of this number):
-- the inventory reads its per-day volume from the same scan as its sums
-- now (rollup.rs, summary), so nothing walks it. SQLite keeps its foreign
-- key (it costs little there) and compares text by byte already.
DROP INDEX report_rollup_period;
