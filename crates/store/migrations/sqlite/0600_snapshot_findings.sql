-- A snapshot's findings in its own row (issue 13): one deflated JSON list
-- (snapshot.rs, pack_findings) instead of a row per finding in `findings`.
-- Snapshots stored before this keep their rows there, and both are read;
-- NULL here means "see the findings table" (or: expired, none left).
-- findings_count keeps what retention and erasure report removing.
ALTER TABLE snapshots ADD COLUMN findings BLOB;
ALTER TABLE snapshots ADD COLUMN findings_count INTEGER;
