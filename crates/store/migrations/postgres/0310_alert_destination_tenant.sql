-- webpages (issue 16): alert destinations belong to a tenant (managed from
-- the web by each tenant's analysts), and an alert goes only to its own
-- tenant's destinations. Existing destinations are tenant 1's (`default`).
ALTER TABLE alert_destinations ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1 REFERENCES tenants (id);
CREATE INDEX alert_destinations_tenant ON alert_destinations (tenant_id, id);
