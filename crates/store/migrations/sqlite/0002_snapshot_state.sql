-- The state after each snapshot (state.rs: items with could-not-look
-- carried forward, finding outcomes), cached as JSON so history, diff and
-- the next scan read it instead of re-judging every stored Observation.
-- NULL: not computed yet (or invalidated when a second sighting may
-- confirm a removal); derived data, recomputed from the snapshots.
ALTER TABLE snapshots ADD COLUMN state TEXT;
