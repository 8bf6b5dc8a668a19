-- worker (issue 15): a large scan as a job, split into batches that worker
-- processes on any number of machines claim with FOR UPDATE SKIP LOCKED and
-- a lease (lease_until, extended by a heartbeat). A batch whose lease ran out
-- is claimed again; results are unique per (job, domain), so a batch done
-- twice stores each domain once. Times are the database's clock (jobs.rs).
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    options      TEXT NOT NULL,
    batch_size   INTEGER NOT NULL,
    domain_count INTEGER NOT NULL,
    label        TEXT NOT NULL
);

CREATE TABLE job_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL DEFAULT 1,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    first_index INTEGER NOT NULL,
    domains     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_until TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    done_at     TEXT
);
CREATE INDEX job_batches_claim ON job_batches (state, id);
CREATE INDEX job_batches_job ON job_batches (job_id, state);

CREATE TABLE job_results (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tenant_id   INTEGER NOT NULL DEFAULT 1,
    domain      TEXT NOT NULL,
    list_index  INTEGER NOT NULL,
    batch_id    INTEGER NOT NULL,
    worker      TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    failed      INTEGER NOT NULL,
    report      BLOB NOT NULL,
    PRIMARY KEY (job_id, domain)
);
CREATE INDEX job_results_batch ON job_results (batch_id);
CREATE INDEX job_results_order ON job_results (job_id, list_index);

-- The monitoring schedule shared by several `monitor run` processes: a
-- process claims due monitors (SKIP LOCKED) and holds each under a lease
-- until its scan is stored; claimed_at tells `--once` runs apart.
ALTER TABLE monitors ADD COLUMN lease_until TEXT;
ALTER TABLE monitors ADD COLUMN claimed_at TEXT;
