-- What changed at each snapshot (its changes and finding transitions from
-- the state before it, timeline.rs), cached as JSON beside its state so
-- `history` reads one small column per snapshot instead of parsing every
-- state. NULL exactly when state is NULL (not computed yet, or invalidated
-- when a second sighting may confirm a removal); derived data.
ALTER TABLE snapshots ADD COLUMN changes TEXT;
