-- webpages (issue 16): alert destinations belong to a tenant (managed from
-- the web by each tenant's analysts), and an alert goes only to its own
-- tenant's destinations. Existing destinations are tenant 1's (`default`),
-- as every row stored before tenants. migrations/postgres/0310 holds the
-- same logical schema (with the foreign key SQLite cannot add here).
ALTER TABLE alert_destinations ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX alert_destinations_tenant ON alert_destinations (tenant_id, id);
