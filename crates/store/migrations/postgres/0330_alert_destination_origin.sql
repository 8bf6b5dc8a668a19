-- Issue 16, the ownership gate on alerts: where a destination came from.
-- NULL (added before this migration by `mailwarden alert add`) or 'cli':
-- the operator's, who holds the database; never gated. 'web:<email>':
-- added through the web page or the API by that user; an alert about a
-- domain goes to it only once its tenant has shown ownership of the
-- domain (alert_delivery.rs). migrations/sqlite/0330 holds the same
-- logical schema.
ALTER TABLE alert_destinations ADD COLUMN added_by TEXT;

-- Destinations the web added before this migration: the web writes an
-- `alert-destination-added` audit event in the same transaction as the
-- row (`mailwarden alert add` writes none), so the event names them and
-- who added them. Where retention erased that event's content, a
-- destination of a tenant other than 1 can still only have come from the
-- web (the CLI adds tenant 1's): 'web:' with no email.
UPDATE alert_destinations SET added_by = 'web:' || COALESCE(
    (SELECT CAST(e.content AS jsonb) ->> 'by' FROM audit_events e
     WHERE e.kind = 'alert-destination-added' AND e.content IS NOT NULL
       AND CAST(e.content AS jsonb) ->> 'destination_id' = CAST(alert_destinations.id AS TEXT)
     ORDER BY e.seq DESC LIMIT 1), '')
WHERE tenant_id <> 1 OR EXISTS (
    SELECT 1 FROM audit_events e
    WHERE e.kind = 'alert-destination-added' AND e.content IS NOT NULL
      AND CAST(e.content AS jsonb) ->> 'destination_id' = CAST(alert_destinations.id AS TEXT));
