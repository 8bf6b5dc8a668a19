-- auditalert (issue 13): audit_events becomes an RFC 9162 Merkle tree log.
-- Each entry keeps its salt (NULL once erased), the salted digests of its
-- domain and content that its leaf commits to, its leaf hash, and the signed
-- tree head of the log at its own size (timestamp and Ed25519 signature;
-- the root is recomputed, never trusted from here).
ALTER TABLE audit_events ADD COLUMN salt BYTEA;
ALTER TABLE audit_events ADD COLUMN domain_digest BYTEA;
ALTER TABLE audit_events ADD COLUMN content_digest BYTEA;
ALTER TABLE audit_events ADD COLUMN leaf_hash BYTEA;
ALTER TABLE audit_events ADD COLUMN head_timestamp BIGINT;
ALTER TABLE audit_events ADD COLUMN head_signature BYTEA;

-- The append state: the log's size and the roots of its perfect subtrees
-- (one per set bit of size, 32 bytes each), so an append reads no old
-- entries. Only a cache: `audit verify` recomputes everything from the rows.
CREATE TABLE audit_tree (
    id       BIGINT PRIMARY KEY,
    size     BIGINT NOT NULL,
    frontier BYTEA NOT NULL,
    key_id   TEXT NOT NULL
);
