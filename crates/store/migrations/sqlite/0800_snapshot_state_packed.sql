-- A snapshot's cached state, compressed (store::codec), and whether it
-- awaits no removal (issue 13). The state was JSON text of about 12 KB in
-- a full audit's 23 KB row; a new snapshot's row was SQLite's largest
-- write (each 4 KB page of it a WAL frame, then copied again by the
-- checkpoint). `settled` was read with LIKE on that text, which a
-- compressed state cannot answer. Rows cached before keep their text in
-- `state` (settled NULL: read from the text as before).
ALTER TABLE snapshots ADD COLUMN state_packed BLOB;
ALTER TABLE snapshots ADD COLUMN settled INTEGER;
