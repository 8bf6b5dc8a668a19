-- A snapshot's cached state, compressed (store::codec), and whether it
-- awaits no removal (issue 13): see the SQLite migration of this number.
-- PostgreSQL compresses large text itself (TOAST), but one format for
-- both keeps one code path; rows cached before keep their text in
-- `state` (settled NULL: read from the text as before).
ALTER TABLE snapshots ADD COLUMN state_packed BYTEA;
ALTER TABLE snapshots ADD COLUMN settled BIGINT;
